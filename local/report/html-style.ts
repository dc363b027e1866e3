// The HTML report's look: its series colours and its one inline style sheet (nothing fetched at view time).

export const colors = {
  inline: '#2563eb',
  workers: '#7c3aed',
  sockets: '#0891b2',
  limit: '#dc2626',
  done: '#16a34a',
  failed: '#dc2626',
  queued: '#94a3b8',
  latency: '#0f766e',
} as const;

export const css = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#1e293b;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#64748b;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #e2e8f0;border-radius:8px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px}.card span{color:#64748b;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.ok{color:#16a34a}.bad{color:#dc2626}.warn{color:#b45309}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
svg.chart{border:1px solid #e2e8f0;border-radius:8px;background:#fff;max-width:100%;height:auto}
.chart-title{font-weight:600;font-size:13px;fill:#1e293b}.tick{font-size:10px;fill:#64748b}.label{font-size:11px;fill:#475569}
.legend{font-size:11px;fill:#334155}.grid{stroke:#f1f5f9}.axis{stroke:#94a3b8}
.series{fill:none;stroke-width:1.8;stroke-linejoin:round}.area{opacity:.12;stroke:none}
.limit{stroke-dasharray:6 4;stroke-width:1.5}.limit-label{font-size:11px;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e2e8f0;vertical-align:top}
th{background:#f8fafc}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px}
.note{color:#64748b;font-size:12px}
.missing{border:1px dashed #cbd5e1;border-radius:8px;padding:12px 16px;min-height:80px}
`;
