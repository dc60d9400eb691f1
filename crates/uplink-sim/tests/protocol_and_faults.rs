//! The simulator seen by a real WebSocket client over loopback.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uplink_sim::{DropMode, SimConfig, Simulator};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("connects")
        .0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next text frame as JSON, skipping price updates unless `updates` is set.
async fn next_json(ws: &mut Ws, updates: bool) -> Value {
    let deadline = Duration::from_secs(5);
    loop {
        let msg = tokio::time::timeout(deadline, ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("stream open")
            .expect("frame ok");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap_or(Value::String(t.to_string()));
            if updates || v["type"] != "update" {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn ping_gets_a_pong_with_the_current_time() {
    let s = sim(SimConfig::default()).await;
    let mut ws = connect(&s.url()).await;
    send(&mut ws, json!({"type": "ping"})).await;
    let pong = next_json(&mut ws, false).await;
    assert_eq!(pong["type"], "pong");
    let ts = humantime::parse_rfc3339(pong["timestamp"].as_str().unwrap()).unwrap();
    let skew = SystemTime::now().duration_since(ts).unwrap_or_default();
    assert!(
        skew < Duration::from_secs(5),
        "pong timestamp is now-ish: {skew:?}"
    );
}

#[tokio::test]
async fn subscribed_symbols_stream_at_the_configured_rate() {
    let s = sim(SimConfig {
        rate: 200.0,
        ..SimConfig::default()
    })
    .await;
    let mut ws = connect(&s.url()).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "data": {"symbols": ["AAPL", "MSFT"]}}),
    )
    .await;
    // Warm up, then count over a 2 s window.
    let first = next_json(&mut ws, true).await;
    assert_eq!(first["type"], "update");
    let start = Instant::now();
    let mut n = 0u32;
    let mut symbols = std::collections::BTreeSet::new();
    while start.elapsed() < Duration::from_secs(2) {
        let v = next_json(&mut ws, true).await;
        assert_eq!(v["type"], "update");
        let d = &v["data"];
        assert!(d["price"].as_f64().unwrap() > 0.0);
        assert!(d["volume"].as_u64().is_some());
        assert!(d["change"].as_f64().is_some() && d["changePercent"].as_f64().is_some());
        symbols.insert(d["symbol"].as_str().unwrap().to_owned());
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    assert!(
        (140.0..=260.0).contains(&rate),
        "about 200/s, got {rate:.0}/s"
    );
    assert_eq!(symbols.into_iter().collect::<Vec<_>>(), ["AAPL", "MSFT"]);

    // Unsubscribing everything stops the stream.
    send(
        &mut ws,
        json!({"type": "unsubscribe", "data": {"symbols": ["AAPL", "MSFT"]}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), ws.next()).await {}
    let quiet = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(quiet.is_err(), "no updates after unsubscribing: {quiet:?}");
}

#[tokio::test]
async fn orders_go_through_their_lifecycle_or_are_rejected() {
    let s = sim(SimConfig {
        order_step: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    let mut ws = connect(&s.url()).await;
    send(
        &mut ws,
        json!({"type": "order", "data": {"symbol": "AAPL", "side": "buy", "qty": 100, "client_order_id": "c-1"}}),
    )
    .await;
    let mut steps = Vec::new();
    for _ in 0..3 {
        let v = next_json(&mut ws, false).await;
        assert_eq!(v["type"], "order");
        assert_eq!(v["data"]["client_order_id"], "c-1");
        steps.push((
            v["data"]["status"].as_str().unwrap().to_owned(),
            v["data"]["filled_qty"].as_f64().unwrap(),
            v["data"]["id"].clone(),
        ));
    }
    assert_eq!(
        steps
            .iter()
            .map(|s| (s.0.as_str(), s.1))
            .collect::<Vec<_>>(),
        [
            ("accepted", 0.0),
            ("partially_filled", 50.0),
            ("filled", 100.0)
        ]
    );
    assert!(steps.iter().all(|s| s.2 == steps[0].2), "one id throughout");

    // Every message decodes with the client's own protocol types.
    send(
        &mut ws,
        json!({"type": "order", "data": {"symbol": "ZZZZ", "side": "sell", "qty": 1}}),
    )
    .await;
    let v = next_json(&mut ws, false).await;
    assert_eq!(
        (v["data"]["status"].as_str(), v["data"]["reason"].as_str()),
        (Some("rejected"), Some("unknown symbol ZZZZ"))
    );
    uplink_proto::Envelope::decode(&v.to_string()).unwrap();

    send(
        &mut ws,
        json!({"type": "order", "data": {"symbol": "AAPL", "side": "buy", "qty": -5}}),
    )
    .await;
    assert_eq!(
        next_json(&mut ws, false).await["data"]["reason"],
        "qty must be a positive number"
    );

    send(
        &mut ws,
        json!({"type": "order", "data": {"symbol": "AAPL", "side": "hold", "qty": 5}}),
    )
    .await;
    let v = next_json(&mut ws, false).await;
    assert_eq!(
        (v["type"].as_str(), v["data"]["code"].as_str()),
        (Some("error"), Some("BAD_REQUEST"))
    );

    // The simulator recorded what it received, in order.
    let orders: Vec<_> = s
        .received()
        .into_iter()
        .filter(|r| r.text.contains("\"order\""))
        .collect();
    assert_eq!(orders.len(), 4);
    assert!(orders[0].text.contains("c-1"));
}

#[tokio::test]
async fn requests_it_cannot_serve_get_error_messages() {
    let s = sim(SimConfig::default()).await;
    let mut ws = connect(&s.url()).await;
    for (frame, code) in [
        ("{not json".to_string(), "MALFORMED_JSON"),
        (json!({"type": "teleport"}).to_string(), "UNKNOWN_TYPE"),
        (
            json!({"type": "subscribe", "data": {"symbols": ["AAPL", "NOPE1"]}}).to_string(),
            "UNKNOWN_SYMBOL",
        ),
        (
            json!({"type": "subscribe", "data": {"symbols": "AAPL"}}).to_string(),
            "BAD_REQUEST",
        ),
        ("[1,2]".to_string(), "BAD_REQUEST"),
    ] {
        ws.send(Message::text(frame.clone())).await.unwrap();
        let v = next_json(&mut ws, false).await;
        assert_eq!(v["type"], "error", "{frame}");
        assert_eq!(v["data"]["code"], code, "{frame}");
        assert!(v["data"]["message"].as_str().unwrap().len() > 5);
        assert!(v["data"]["details"].is_object());
    }
    // The known symbol of the mixed subscription still streams.
    assert_eq!(next_json(&mut ws, true).await["data"]["symbol"], "AAPL");
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_refused_with_401() {
    let s = sim(SimConfig {
        token: Some("s3cret".into()),
        ..SimConfig::default()
    })
    .await;
    for url in [s.url(), format!("{}?token=wrong", s.url())] {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), 401),
            other => panic!("expected 401 for {url}, got {other:?}"),
        }
    }
    connect(&format!("{}?token=s3cret", s.url())).await;
    let mut req = s.url().into_client_request().unwrap();
    req.headers_mut()
        .insert("Authorization", "Bearer s3cret".parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .expect("bearer header accepted");
    assert_eq!(s.stats().handshakes_refused, 2);
}

#[tokio::test]
async fn silence_keeps_tcp_open_but_answers_nothing() {
    let s = sim(SimConfig::default()).await;
    let mut ws = connect(&s.url()).await;
    s.set_silent(true);
    send(&mut ws, json!({"type": "ping"})).await;
    let got = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
    assert!(
        got.is_err(),
        "nothing comes back while silent, not even a close: {got:?}"
    );
    // Still open: writing works and the server still counts the connection.
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(s.stats().connections_open, 1);
    // New connections get TCP but no handshake answer while silent.
    let pending = tokio::time::timeout(
        Duration::from_millis(400),
        tokio_tungstenite::connect_async(s.url()),
    )
    .await;
    assert!(pending.is_err(), "the upgrade is not answered while silent");
    // Answers resume when the silence ends.
    s.set_silent(false);
    assert_eq!(next_json(&mut ws, false).await["type"], "pong");
    connect(&s.url()).await;
}

#[tokio::test]
async fn drop_with_close_sends_the_code_and_reset_sends_none() {
    let s = sim(SimConfig::default()).await;
    let mut ws = connect(&s.url()).await;
    assert_eq!(s.drop_all(DropMode::Close { code: 4000 }), 1);
    let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    match frame {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 4000),
        other => panic!("expected a close frame, got {other:?}"),
    }

    let mut ws = connect(&s.url()).await;
    // Wait until the first connection is gone and the second registered.
    while (s.stats().connections_total, s.stats().connections_open) != (2, 1) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(s.drop_all(DropMode::Reset), 1);
    let got = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    match got {
        Some(Err(WsError::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        other => panic!("expected a TCP reset, got {other:?}"),
    }
}

#[tokio::test]
async fn refusal_window_refuses_then_accepts_again() {
    let s = sim(SimConfig::default()).await;
    s.refuse(Some(Duration::from_millis(400)));
    // The listener closes: the kernel refuses the TCP connect.
    let mut refused = false;
    for _ in 0..50 {
        match TcpStream::connect(s.addr()).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    assert!(refused, "connections are refused during the window");
    assert!(s.faults().refusing);
    // After the window the same address accepts again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if tokio_tungstenite::connect_async(s.url()).await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "accepting again after the window"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!s.faults().refusing);
}

#[tokio::test]
async fn pongs_can_be_delayed() {
    let s = sim(SimConfig::default()).await;
    s.set_delays(Duration::from_millis(300), Duration::ZERO);
    let mut ws = connect(&s.url()).await;
    let t = Instant::now();
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws, false).await["type"], "pong");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "pong held back: {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn malformed_and_oversized_frames_on_command() {
    let s = sim(SimConfig::default()).await;
    let mut ws = connect(&s.url()).await;
    while s.stats().connections_open < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(s.send_malformed(), 1);
    let v = next_json(&mut ws, true).await;
    assert!(v.is_string(), "not JSON: {v}");
    assert!(serde_json::from_str::<Value>(v.as_str().unwrap()).is_err());
    assert_eq!(s.send_oversized(200_000), 1);
    match tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
    {
        Some(Ok(Message::Text(t))) => {
            assert_eq!(t.len(), 200_000);
            serde_json::from_str::<Value>(&t).unwrap();
        }
        other => panic!("expected a big text frame, got {other:?}"),
    }
}

#[tokio::test]
async fn flapping_drops_and_refuses_in_cycles() {
    let s = sim(SimConfig::default()).await;
    s.flap(Duration::from_millis(300), Duration::from_millis(300));
    let mut ws = connect(&s.url()).await;
    let t = Instant::now();
    match tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
    {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1001),
        other => panic!("expected a close, got {other:?}"),
    }
    assert!(t.elapsed() <= Duration::from_secs(2));
    // Down: refused; then up again.
    let mut saw_refusal = false;
    let mut reconnected = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !(saw_refusal && reconnected) {
        match tokio_tungstenite::connect_async(s.url()).await {
            Ok(_) if saw_refusal => reconnected = true,
            Ok(_) => {}
            Err(_) => saw_refusal = true,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_refusal && reconnected);
    s.clear_faults();
    assert_eq!(s.faults().flap, None);
}

#[tokio::test]
async fn wss_works_with_the_certificate_and_fails_without_it() {
    let s = sim(SimConfig {
        tls: true,
        ..SimConfig::default()
    })
    .await;
    assert!(s.url().starts_with("wss://localhost:"));
    // Without trusting the self-signed certificate: rejected.
    let err = tokio_tungstenite::connect_async(s.url()).await.unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // Trusting it: works, and speaks the protocol.
    let mut roots = rustls::RootCertStore::empty();
    let pem = s.ca_pem().unwrap();
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).unwrap();
    roots.add(der).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        s.url(),
        None,
        true,
        Some(tokio_tungstenite::Connector::Rustls(Arc::new(tls))),
    )
    .await
    .unwrap();
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws, false).await["type"], "pong");
}

async fn http(addr: &str, method: &str, path: &str) -> (u16, Value) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(format!("{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut resp = String::new();
    tcp.read_to_string(&mut resp).await.unwrap();
    let status: u16 = resp[9..12].parse().unwrap();
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    (status, serde_json::from_str(body).unwrap())
}

#[tokio::test]
async fn the_http_control_endpoint_switches_faults() {
    let s = sim(SimConfig {
        control_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..SimConfig::default()
    })
    .await;
    let ctl = s
        .control_url()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let mut ws = connect(&s.url()).await;
    send(
        &mut ws,
        json!({"type": "order", "data": {"symbol": "AAPL", "side": "buy", "qty": 1}}),
    )
    .await;
    next_json(&mut ws, false).await;

    let (st, v) = http(&ctl, "GET", "/status").await;
    assert_eq!(
        (st, v["stats"]["connections_open"].as_u64()),
        (200, Some(1))
    );
    let (_, v) = http(&ctl, "GET", "/received?type=order").await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["message"]["data"]["symbol"], "AAPL");

    assert_eq!(http(&ctl, "POST", "/silence?on=true").await.0, 200);
    assert!(s.faults().silent);
    assert_eq!(http(&ctl, "POST", "/silence?on=false").await.0, 200);
    assert_eq!(http(&ctl, "POST", "/delay?pong_ms=250").await.0, 200);
    assert_eq!(s.faults().pong_delay_ms, 250);
    assert_eq!(http(&ctl, "POST", "/rate?per_sec=5").await.0, 200);
    assert_eq!(s.faults().rate, 5.0);

    let (st, v) = http(&ctl, "POST", "/delay?pong_ms=soon").await;
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("pong_ms"));
    assert_eq!(http(&ctl, "POST", "/flap?up=1").await.0, 400);
    assert_eq!(http(&ctl, "POST", "/drop?mode=explode").await.0, 400);
    assert_eq!(http(&ctl, "GET", "/nope").await.0, 404);
    assert_eq!(http(&ctl, "GET", "/drop").await.0, 405);

    let (st, v) = http(&ctl, "POST", "/drop?mode=close&code=4001").await;
    assert_eq!((st, v["dropped"].as_u64()), (200, Some(1)));
    match tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
    {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 4001),
        other => panic!("expected close 4001, got {other:?}"),
    }
    assert_eq!(http(&ctl, "POST", "/clear").await.0, 200);
    assert_eq!(s.faults().pong_delay_ms, 0);
}
