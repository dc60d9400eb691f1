//! The soak's short version: 40 forced reconnect cycles with prices flowing and
//! orders sent, some while the link is down. Nothing is lost, nothing executes twice.
//! The long run is `cargo run --release -p uplink-bench -- soak --cycles 1000`.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_reconnect_cycles_lose_and_duplicate_nothing() {
    let r = uplink_bench::soak(40, 4).await.unwrap();
    eprintln!("{r:?}");
    assert_eq!((r.lost, r.duplicated), (0, 0), "{r:?}");
    assert!(r.reconnections >= 40, "{r:?}");
    assert_eq!(r.queue_dropped, 0, "{r:?}");
    assert!(r.updates > 0, "{r:?}");
    assert!(r.rss_end_mib - r.rss_start_mib < 100.0, "{r:?}");
}
