// The candle chart of one trade, drawn by TradingView's Lightweight Charts (vendored in
// `vendor/lightweight-charts/`, loaded on first use). The engine's values arrive as the JSON of
// `quantbot_lab_model::detail::TradeChart`; nothing is computed here but colours and layout.
// What was drawn stays readable on the element (`el.quantbotChart`) for the tests.

const SCRIPT = 'vendor/lightweight-charts/lightweight-charts.standalone.production.js';
let loading = null;

function library() {
  if (globalThis.LightweightCharts) return Promise.resolve(globalThis.LightweightCharts);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = SCRIPT;
      s.onload = () => resolve(globalThis.LightweightCharts);
      s.onerror = () => { loading = null; reject(new Error(`${SCRIPT} did not load`)); };
      document.head.appendChild(s);
    });
  }
  return loading;
}

// Colour-blind-safe (Okabe–Ito); every level also differs in line style and carries its name.
const LEVEL_STYLE = {
  take_profit: { color: '#009E73', lineStyle: 2 },
  stop_loss: { color: '#D55E00', lineStyle: 0 },
  break_even: { color: '#0072B2', lineStyle: 1 },
  trailing_stop: { color: '#CC79A7', lineStyle: 3 },
};
const INDICATOR_COLORS = ['#E69F00', '#56B4E9', '#000000'];

function marker(m) {
  const entry = m.kind === 'entry';
  const pct = m.fraction < 1 && !entry ? ` ${(m.fraction * 100).toFixed(0)}%` : '';
  return {
    time: m.time,
    position: 'atPriceMiddle',
    price: m.price,
    shape: entry ? 'arrowUp' : 'arrowDown',
    color: entry ? '#0072B2' : (m.kind === 'take_profit' ? '#009E73' : '#D55E00'),
    text: `${m.kind}${pct} @ ${m.price.toPrecision(6)}`,
  };
}

function points(line) {
  return line.points.map(([time, value]) => (value === null ? { time } : { time, value }));
}

/** Draws `json` (a TradeChart) into `el`, replacing what was there. */
export async function drawTradeChart(el, json) {
  const LC = await library();
  const c = JSON.parse(json);
  if (el.quantbotChart) { el.quantbotChart.chart.remove(); el.quantbotChart = null; }
  const chart = LC.createChart(el, {
    autoSize: true,
    layout: { background: { color: '#ffffff' }, textColor: '#222' },
    timeScale: { timeVisible: true, secondsVisible: false },
    crosshair: { mode: LC.CrosshairMode.Normal },
    localization: { priceFormatter: p => (Math.abs(p) >= 1e-12 ? p.toPrecision(5) : '0') },
  });
  const candles = chart.addSeries(LC.CandlestickSeries, {
    upColor: '#ffffff', downColor: '#222222', borderUpColor: '#222222', borderDownColor: '#222222',
    wickUpColor: '#222222', wickDownColor: '#222222',
  });
  candles.setData(c.bars.map(b => ({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close })));
  const markers = c.marks.map(marker);
  for (const t of c.fires) {
    markers.push({ time: t, position: 'belowBar', shape: 'circle', color: '#E69F00', text: 'rule' });
  }
  markers.sort((a, b) => a.time - b.time);
  const markerApi = LC.createSeriesMarkers(candles, markers);
  const lines = {};
  for (const l of c.levels) {
    const st = LEVEL_STYLE[l.name] || { color: '#666', lineStyle: 0 };
    // A far take-profit would squash the candles: the price axis fits the candles and stops.
    const s = chart.addSeries(LC.LineSeries, {
      color: st.color, lineStyle: st.lineStyle, lineWidth: 2, lineType: 1,
      title: l.name, priceLineVisible: false, lastValueVisible: false,
      ...(l.name === 'take_profit' ? { autoscaleInfoProvider: () => null } : {}),
    });
    s.setData(points(l));
    lines[l.name] = s;
  }
  c.indicator.forEach((l, k) => {
    const s = chart.addSeries(LC.LineSeries, {
      color: l.name === 'threshold' ? '#888888' : INDICATOR_COLORS[k % INDICATOR_COLORS.length],
      lineWidth: 1, lineStyle: l.name === 'threshold' ? 2 : 0,
      title: l.name, priceLineVisible: false, lastValueVisible: false,
    }, l.pane);
    s.setData(points(l));
    lines[l.name] = s;
  });
  if (c.indicator.some(l => l.pane === 1)) {
    const vol = chart.addSeries(LC.HistogramSeries, { color: '#bbbbbb', title: 'volume', priceFormat: { type: 'volume' } }, 2);
    vol.setData(c.bars.map(b => ({ time: b.time, value: b.volume })));
    lines.volume = vol;
  }
  // Open on the trade: the entry to a while after the exit (at least an hour of candles).
  const exit = Math.floor(c.exit_ts_ms / 1000);
  const first = c.bars.length ? c.bars[0].time : 0;
  const span = Math.max(exit - first, 3600);
  chart.timeScale().setVisibleRange({ from: first - span * 0.04, to: exit + span * 0.3 });
  el.quantbotChart = {
    chart, candles, markers: markerApi, lines,
    // What the chart holds, as its series report it.
    read: () => ({
      bars: candles.data(),
      markers: markerApi.markers(),
      lines: Object.fromEntries(Object.entries(lines).map(([k, s]) => [k, s.data()])),
    }),
  };
  el.dataset.call = c.call_id;
}
