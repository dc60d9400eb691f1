// A live chart of recent round trips: an SVG polyline, newest on the right.
import { svg } from "../dom";

const W = 300;
const H = 64;

export class LatencyChart {
  readonly el: SVGElement;
  private line: SVGElement;
  private avg: SVGElement;
  private samples: number[] = [];

  constructor(private readonly keep = 60) {
    this.el = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", preserveAspectRatio: "none", "data-testid": "latency-chart", role: "img", "aria-label": "recent latency" });
    this.avg = svg("line", { class: "avg", x1: 0, x2: W, y1: H, y2: H });
    this.line = svg("polyline", { class: "line", points: "" });
    this.el.append(this.avg, this.line);
  }

  get points(): number {
    return this.samples.length;
  }

  push(msValue: number): void {
    this.samples.push(msValue);
    if (this.samples.length > this.keep) this.samples.shift();
    this.draw();
  }

  private draw(): void {
    const n = this.samples.length;
    const top = Math.max(1, ...this.samples) * 1.15;
    const step = n > 1 ? W / (this.keep - 1) : 0;
    const x0 = W - (n - 1) * step;
    const pts = this.samples.map((v, i) => `${(x0 + i * step).toFixed(1)},${(H - (v / top) * H).toFixed(1)}`);
    this.line.setAttribute("points", pts.join(" "));
    const mean = this.samples.reduce((a, b) => a + b, 0) / Math.max(1, n);
    const y = (H - (mean / top) * H).toFixed(1);
    this.avg.setAttribute("y1", y);
    this.avg.setAttribute("y2", y);
  }
}
