/** A minimal Prometheus registry (counters and gauges with labels), rendered in the text exposition format. */
export interface MetricsRegistry {
  inc(name: string, labels?: Record<string, string>, by?: number): void;
  set(name: string, value: number, labels?: Record<string, string>): void;
  describe(name: string, type: 'counter' | 'gauge', help: string): void;
  render(): string;
}

export function createMetricsRegistry(): MetricsRegistry {
  const meta = new Map<string, { type: string; help: string }>();
  const values = new Map<string, Map<string, number>>();
  const key = (labels?: Record<string, string>) =>
    labels && Object.keys(labels).length
      ? `{${Object.entries(labels)
          .map(([k, v]) => `${k}="${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
          .join(',')}}`
      : '';
  const series = (name: string) => {
    let m = values.get(name);
    if (!m) values.set(name, (m = new Map()));
    return m;
  };
  return {
    describe(name, type, help) {
      meta.set(name, { type, help });
    },
    inc(name, labels, by = 1) {
      const m = series(name);
      const k = key(labels);
      m.set(k, (m.get(k) ?? 0) + by);
    },
    set(name, value, labels) {
      series(name).set(key(labels), value);
    },
    render() {
      const out: string[] = [];
      for (const [name, m] of values) {
        const d = meta.get(name);
        if (d) out.push(`# HELP ${name} ${d.help}`, `# TYPE ${name} ${d.type}`);
        for (const [k, v] of m) out.push(`${name}${k} ${v}`);
      }
      return out.join('\n') + '\n';
    },
  };
}
