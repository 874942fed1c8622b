// A tiny rate sparkline: changes per bucket over the last minute, drawn as an SVG polyline.

const SVG = "http://www.w3.org/2000/svg";
const BUCKETS = 12;
const BUCKET_MS = 5_000;

export class Sparkline {
  readonly node: SVGSVGElement;
  private readonly line: SVGPolylineElement;
  private times: number[] = [];

  constructor(label: string) {
    this.node = document.createElementNS(SVG, "svg");
    this.node.setAttribute("class", "spark");
    this.node.setAttribute("viewBox", `0 0 ${BUCKETS - 1} 10`);
    this.node.setAttribute("preserveAspectRatio", "none");
    this.node.setAttribute("role", "img");
    this.node.setAttribute("aria-label", label);
    this.line = document.createElementNS(SVG, "polyline");
    this.node.append(this.line);
    this.draw(Date.now());
  }

  record(at: number): void {
    this.times.push(at);
    this.draw(at);
  }

  /** Redraws the last minute; the label says the rate in words. */
  draw(now: number): void {
    this.times = this.times.filter((t) => now - t < BUCKETS * BUCKET_MS);
    const counts = new Array<number>(BUCKETS).fill(0);
    for (const t of this.times) {
      const bucket = BUCKETS - 1 - Math.floor((now - t) / BUCKET_MS);
      if (bucket >= 0) counts[bucket] = (counts[bucket] ?? 0) + 1;
    }
    const peak = Math.max(1, ...counts);
    this.line.setAttribute("points", counts.map((c, i) => `${i},${(10 - (c / peak) * 9.5).toFixed(2)}`).join(" "));
    this.node.setAttribute("aria-label", `${this.times.length} changes in the last minute`);
  }
}
