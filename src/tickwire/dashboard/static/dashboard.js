// tickwire dashboard: applies the server's coalesced pushes (/ws) to charts, book ladders, tape, alerts
// and the connection panel. The server sends a snapshot first, then updates newer than what this page
// has. Strings from the network (symbols, market slugs, messages) only ever reach the page as text.
"use strict";
(function () {
  const LWC = window.LightweightCharts;
  const TAPE_ROWS = 80;
  const ALERT_ROWS = 100;
  const LADDER_ROWS = 10;
  // per-symbol tables without a prototype: a symbol named "__proto__" or "constructor" is just a key
  const keyed = () => Object.create(null);
  const state = {
    charts: keyed(), series: keyed(), volume: keyed(), books: keyed(), decimals: keyed(), interval: 60,
    messages: 0, socket: null, retry: 500, removed: 0,
  };
  window.tickwire = state;

  const $ = (id) => document.getElementById(id);
  const fmt = (v, d) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
  const px = (sym, v) => fmt(v, state.decimals[sym] || 2);
  const qty = (v) => Number(v).toLocaleString(undefined, { maximumFractionDigits: 2 });
  const hhmmss = (ms) => new Date(ms).toISOString().slice(11, 19);

  function card(sym) {
    let el = document.querySelector(`.card[data-symbol="${CSS.escape(sym)}"]`);
    if (el) return el;
    el = document.createElement("div");
    el.className = "card";
    el.dataset.symbol = sym;
    el.dataset.candles = "0";
    el.dataset.updates = "0";
    // static markup only: every network string (the symbol, a market slug) goes in as text
    el.innerHTML = '<div class="head"><span class="sym"></span><span class="last">–</span>' +
      '<span class="quote"></span></div><div class="body"><div class="chart"></div></div>';
    el.querySelector(".sym").textContent = sym;
    el.querySelector(".sym").title = sym;
    $("charts").appendChild(el);
    const chart = LWC.createChart(el.querySelector(".chart"), {
      autoSize: true,
      layout: { background: { color: "#161d24" }, textColor: "#aab6c0" },
      grid: { vertLines: { color: "#1f2830" }, horzLines: { color: "#1f2830" } },
      timeScale: { timeVisible: true, secondsVisible: state.interval < 60 },
      rightPriceScale: { scaleMargins: { top: 0.08, bottom: 0.25 } },
    });
    const candles = chart.addSeries(LWC.CandlestickSeries, {
      upColor: "#26a69a", downColor: "#ef5350", borderVisible: false,
      wickUpColor: "#26a69a", wickDownColor: "#ef5350",
    });
    const volume = chart.addSeries(LWC.HistogramSeries, {
      priceFormat: { type: "volume" }, priceScaleId: "", color: "#37474f",
    });
    volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    state.charts[sym] = chart;
    state.series[sym] = candles;
    state.volume[sym] = volume;
    return el;
  }

  function merge(series, item) {
    const data = series.data();
    if (data.some((d) => d.time === item.time)) {
      series.update(item, true);
    } else {
      series.setData([...data, item].sort((x, y) => x.time - y.time));
    }
  }

  function setDecimals(sym, d) {
    if (!d || state.decimals[sym] === d) return;
    state.decimals[sym] = d;
    state.series[sym].applyOptions({ priceFormat: { type: "price", precision: d, minMove: 10 ** -d } });
  }

  function ladderRow(sym, cls, level, widest) {
    const tr = document.createElement("tr");
    tr.className = cls;
    const price = document.createElement("td");
    price.className = "px";
    price.textContent = px(sym, level[0]);
    const size = document.createElement("td");
    size.className = "sz";
    size.textContent = qty(level[1]);
    tr.append(price, size);
    tr.style.setProperty("--depth", `${widest > 0 ? Math.round((level[1] / widest) * 100) : 0}%`);
    return tr;
  }

  function applyBook(sym, el, book) {
    let ladder = el.querySelector(".ladder");
    if (!ladder) {
      el.dataset.book = "1";
      ladder = document.createElement("table");
      ladder.className = "ladder";
      ladder.innerHTML = '<thead><tr><th>price</th><th>size</th></tr></thead>' +
        '<tbody class="asks"></tbody><tbody class="spread"><tr><td colspan="2"></td></tr></tbody>' +
        '<tbody class="bids"></tbody>';
      el.querySelector(".body").appendChild(ladder);
    }
    const bids = book.bids.slice(0, LADDER_ROWS);
    const asks = book.asks.slice(0, LADDER_ROWS);
    const widest = Math.max(0, ...bids.map((l) => l[1]), ...asks.map((l) => l[1]));
    // asks highest first, so the best ask sits on the spread row and the best bid under it
    ladder.querySelector("tbody.asks").replaceChildren(
      ...asks.slice().reverse().map((l) => ladderRow(sym, "ask", l, widest)));
    ladder.querySelector("tbody.bids").replaceChildren(...bids.map((l) => ladderRow(sym, "bid", l, widest)));
    const spread = bids.length && asks.length ? asks[0][0] - bids[0][0] : null;
    ladder.querySelector("tbody.spread td").textContent =
      spread === null ? "one-sided" : `spread ${px(sym, spread)}`;
    ladder.dataset.bids = String(bids.length);
    ladder.dataset.asks = String(asks.length);
    ladder.dataset.bestBid = bids.length ? String(bids[0][0]) : "";
    ladder.dataset.bestAsk = asks.length ? String(asks[0][0]) : "";
    ladder.dataset.updates = String(Number(ladder.dataset.updates || 0) + 1);
    state.books[sym] = { bids, asks };
  }

  function applySymbol(sym, s, reset) {
    const el = card(sym);
    const series = state.series[sym];
    const volume = state.volume[sym];
    const bars = s.candles || [];
    setDecimals(sym, s.decimals);
    if (reset) {
      series.setData(bars.map(({ time, open, high, low, close }) => ({ time, open, high, low, close })));
      volume.setData(bars.map((b) => ({ time: b.time, value: b.volume })));
    } else {
      for (const b of bars) {
        const candle = { time: b.time, open: b.open, high: b.high, low: b.low, close: b.close };
        const data = series.data();
        const newest = data.length ? data[data.length - 1].time : -Infinity;
        if (b.time >= newest) {
          series.update(candle);
          volume.update({ time: b.time, value: b.volume });
        } else {
          merge(series, candle);  // a late trade changed an older candle
          merge(volume, { time: b.time, value: b.volume });
        }
      }
    }
    if (bars.length) {
      el.dataset.updates = String(Number(el.dataset.updates) + bars.length);
      const newest = series.data()[series.data().length - 1];
      el.dataset.lastTime = String(newest.time);
      el.dataset.lastClose = String(newest.close);
    }
    el.dataset.candles = String(series.data().length);
    if (s.last !== null && s.last !== undefined) el.querySelector(".last").textContent = px(sym, s.last);
    if ((s.bid !== null && s.bid !== undefined) || (s.ask !== null && s.ask !== undefined)) {
      el.querySelector(".quote").textContent = `${px(sym, s.bid)} × ${px(sym, s.ask)}`;
    }
    if (s.book) applyBook(sym, el, s.book);
  }

  // the server stopped tracking it (its bound on symbols: the least recently updated go first)
  function removeSymbol(sym) {
    const el = document.querySelector(`.card[data-symbol="${CSS.escape(sym)}"]`);
    if (state.charts[sym]) state.charts[sym].remove();
    if (el) el.remove();
    for (const t of [state.charts, state.series, state.volume, state.books, state.decimals]) delete t[sym];
    state.removed += 1;
  }

  function applyTape(rows) {
    if (!rows.length) return;
    const table = $("tape");
    const body = table.querySelector("tbody");
    const frag = document.createDocumentFragment();
    for (let i = rows.length - 1; i >= 0; i--) {
      const r = rows[i];
      const tr = document.createElement("tr");
      tr.className = r.kind;
      tr.dataset.seq = String(r.seq);
      const cells = r.kind === "T"
        ? [hhmmss(r.t), r.sym, "T", px(r.sym, r.price), qty(r.size)]
        : [hhmmss(r.t), r.sym, "Q", `${px(r.sym, r.bid)} × ${px(r.sym, r.ask)}`, ""];
      for (const c of cells) {
        const td = document.createElement("td");
        td.textContent = c;
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    body.insertBefore(frag, body.firstChild);
    while (body.rows.length > TAPE_ROWS) body.deleteRow(body.rows.length - 1);
    table.dataset.rowsSeen = String(Number(table.dataset.rowsSeen) + rows.length);
    table.dataset.lastSeq = String(rows[rows.length - 1].seq);
  }

  function applyAlerts(alerts) {
    if (!alerts.length) return;
    const list = $("alerts");
    for (const a of alerts) {
      const li = document.createElement("li");
      li.dataset.kind = a.kind;
      li.dataset.symbol = a.symbol;
      const when = document.createElement("time");
      when.textContent = hhmmss(a.t);
      li.appendChild(when);
      li.appendChild(document.createTextNode(a.message));
      list.insertBefore(li, list.firstChild);
    }
    while (list.children.length > ALERT_ROWS) list.removeChild(list.lastChild);
    list.dataset.count = String(Number(list.dataset.count) + alerts.length);
  }

  function applyConn(c) {
    const panel = $("conn");
    panel.dataset.state = c.state;
    panel.dataset.reconnects = String(c.reconnects);
    panel.dataset.gaps = String(c.gaps);
    $("conn-state").textContent = c.state;
    $("conn-rate").textContent = Math.round(c.events_per_second).toLocaleString();
    $("conn-events").textContent = c.events.toLocaleString();
    $("conn-lag").textContent = c.lag_seconds === null ? "–" : `${c.lag_seconds.toFixed(2)} s`;
    $("conn-reconnects").textContent = String(c.reconnects);
    $("conn-gaps").textContent = c.gaps ? `${c.gaps} (${c.gap_seconds.toFixed(2)} s)` : "0";
    $("conn-dropped").textContent = String(c.dropped);
    $("conn-reason").textContent = c.reason || "–";
    // green only once data flows: a page connected to a server whose stream is down is not "live"
    const live = c.state === "connected" && c.market_events > 0;
    $("page-status").dataset.status = live ? "live" : "waiting";
    $("page-status").textContent = live ? "live" : c.state === "connected" ? "waiting for data" : c.state;
  }

  function onMessage(msg) {
    state.messages += 1;
    const reset = msg.type === "snapshot";
    state.interval = msg.interval;
    if (reset) {  // a (re)connected page starts over: the snapshot carries the recent tape and alerts
      $("tape").querySelector("tbody").replaceChildren();
      $("alerts").replaceChildren();
      for (const sym of Object.keys(state.charts)) if (!Object.hasOwn(msg.symbols, sym)) removeSymbol(sym);
    }
    for (const sym of msg.removed || []) removeSymbol(sym);
    for (const [sym, s] of Object.entries(msg.symbols)) applySymbol(sym, s, reset);
    applyTape(msg.tape);
    applyAlerts(msg.alerts);
    applyConn(msg.conn);
    document.body.dataset.messages = String(state.messages);
  }

  function connect() {
    // the page's own token (when the server asks for one) goes with the socket too
    const token = new URLSearchParams(location.search).get("token");
    const query = token === null ? "" : `?token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws${query}`);
    state.socket = ws;
    ws.onopen = () => {
      state.retry = 500;
      $("page-status").dataset.status = "waiting";  // "live" once the server says data flows
      $("page-status").textContent = "waiting for data";
    };
    ws.onmessage = (e) => onMessage(JSON.parse(e.data));
    ws.onclose = () => {
      $("page-status").dataset.status = "offline";
      $("page-status").textContent = "reconnecting…";
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 10000);
    };
  }

  connect();
})();
