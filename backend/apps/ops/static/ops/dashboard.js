/* Ops dashboard: poll the ops API with the session cookie and redraw each section;
 * post retries and replays with the CSRF token. No external resource of any kind.
 * Text from the server is only ever set with textContent (never innerHTML). */
(function () {
  "use strict";

  var root = document.getElementById("ops");
  if (!root) { return; }
  var cfg = root.dataset;
  var refreshMs = Math.max(1, parseInt(cfg.refreshSeconds, 10) || 5) * 1000;
  var listSize = parseInt(cfg.listSize, 10) || 20;
  var sparkW = parseInt(cfg.sparkWidth, 10) || 120;
  var sparkH = parseInt(cfg.sparkHeight, 10) || 28;
  var chartW = parseInt(cfg.chartWidth, 10) || 360;
  var chartH = parseInt(cfg.chartHeight, 10) || 80;
  var SVG = "http://www.w3.org/2000/svg";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var SVG_NS = "http://www.w3.org/2000/svg";
  var busy = false;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "className") { node.className = attrs[key]; }
      else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function when(iso) { return iso ? String(iso).slice(0, 19).replace("T", " ") : ""; }

  function td(text, className) { return el("td", { text: text == null ? "" : String(text), className: className || "" }); }

  function stateBadge(state) {
    var value = state || "PENDING";
    return el("span", { className: "state state-" + String(value).toLowerCase(), text: value });
  }

  function replaceRows(id, rows, emptyText, columns) {
    var body = document.getElementById(id);
    if (!body) { return; }
    body.textContent = "";
    if (!rows.length) {
      body.appendChild(el("tr", { className: "empty" }, [el("td", { colspan: String(columns), text: emptyText })]));
      return;
    }
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function sparkPoints(values) {
    if (!values.length) { return ""; }
    if (values.length === 1) { values = [values[0], values[0]]; }
    var top = Math.max(Math.max.apply(null, values), 1);
    var step = sparkW / (values.length - 1);
    return values.map(function (v, i) {
      return (i * step).toFixed(1) + "," + (sparkH - 1 - (v / top) * (sparkH - 2)).toFixed(1);
    }).join(" ");
  }

  function sparkline(name, values) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("width", String(sparkW));
    svg.setAttribute("height", String(sparkH));
    svg.setAttribute("viewBox", "0 0 " + sparkW + " " + sparkH);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", name + " depth over the last hour");
    var line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", sparkPoints(values));
    svg.appendChild(line);
    return svg;
  }

  // Same maths as apps.ops.dashboard.chart_segments: one polyline per unbroken run of
  // values (null is a gap), every series of a chart on one scale.
  function chartSegments(values, top) {
    var step = chartW / Math.max(values.length - 1, 1);
    var segments = [];
    var current = [];
    top = Math.max(top, 1);
    values.forEach(function (v, i) {
      if (v === null || v === undefined) {
        if (current.length) { segments.push(current.join(" ")); }
        current = [];
        return;
      }
      current.push((i * step).toFixed(1) + "," + (chartH - 1 - (v / top) * (chartH - 2)).toFixed(1));
    });
    if (current.length) { segments.push(current.join(" ")); }
    return segments.map(function (seg) {
      if (seg.indexOf(" ") >= 0) { return seg; }
      var xy = seg.split(",").map(parseFloat);  // a lone point: a short flat line (6 px)
      return Math.max(xy[0] - 3, 0).toFixed(1) + "," + xy[1].toFixed(1) + " " +
        Math.min(xy[0] + 3, chartW).toFixed(1) + "," + xy[1].toFixed(1);
    });
  }

  function renderChart(id, series) {
    var fig = document.getElementById(id);
    if (!fig) { return; }
    var names = Object.keys(series);
    var top = 0;
    names.forEach(function (n) { series[n].forEach(function (v) { if (v !== null && v > top) { top = v; } }); });
    fig.dataset.top = String(top);
    fig.querySelector(".chart-top").textContent = String(top);
    var svg = fig.querySelector("svg");
    Array.prototype.slice.call(svg.querySelectorAll("polyline")).forEach(function (p) { p.remove(); });
    var legend = fig.querySelector(".legend");
    legend.textContent = "";
    names.forEach(function (name) {
      var css = name.toLowerCase().replace(/_/g, "-");
      chartSegments(series[name], top).forEach(function (points) {
        var line = document.createElementNS(SVG, "polyline");
        line.setAttribute("class", "series series-" + css);
        line.setAttribute("data-series", name);
        line.setAttribute("points", points);
        svg.appendChild(line);
      });
      var summary = fig.dataset.summary;
      var value;
      if (summary === "latest") {
        var known = series[name].filter(function (v) { return v !== null && v !== undefined; });
        value = known.length ? known[known.length - 1] : "–";
      } else {
        value = series[name].reduce(function (a, v) { return a + (v || 0); }, 0);
      }
      legend.appendChild(el("li", { "data-series": name }, [
        el("span", { className: "swatch series-" + css }), name + " ",
        el("span", { className: "muted" }, [summary + " ", el("span", { className: "total", text: String(value) })]),
      ]));
    });
  }

  function renderCharts(o) {
    var a = o.activity;
    var empty = a.checkouts.map(function () { return null; });
    var depth = {};
    o.queue_history.queues.forEach(function (q) { depth[q] = a.queue_depth[q] || empty; });
    renderChart("chart-checkouts", { checkouts: a.checkouts });
    renderChart("chart-tasks", a.task_outcomes);
    renderChart("chart-queues", depth);
  }

  function setStatus(id, part, label) {
    var node = document.getElementById(id);
    node.textContent = "";
    if (part.status !== "ok") {
      node.appendChild(el("span", { className: "bad", text: label + " unavailable:" }));
      node.appendChild(document.createTextNode(" " + (part.reason || "")));
    }
  }

  function setText(id, value) {
    var node = document.getElementById(id);
    if (node) { node.textContent = String(value); }
  }

  function renderOverview(o) {
    var gen = document.getElementById("generated-at");
    gen.setAttribute("datetime", o.generated_at);
    gen.textContent = new Date(o.generated_at).toISOString().slice(11, 19) + " UTC";
    setText("tile-stuck-payments", o.payments.stuck);
    setText("tile-unprocessed-webhooks", o.webhook_events.unprocessed);
    setText("tile-stale-emails", o.emails.queued_stale);
    setText("tile-stock-drifts", o.stock_drifts.unresolved);
    setText("tile-unshipped-fulfilments", o.fulfilments.unshipped);
    setText("tile-failed-last-hour", o.tasks_last_hour.by_state.FAILURE || 0);

    renderCharts(o);

    setStatus("queues-status", o.queues, "Broker");
    var live = {};
    (o.queues.items || []).forEach(function (q) { live[q.name] = q; });
    replaceRows("queues-body", o.queue_history.queues.map(function (name) {
      var stat = live[name];
      var history = (o.queue_history.series[name] || []).map(function (p) { return p.depth; });
      if (stat) { history.push(stat.depth); }
      var age = stat && stat.oldest_age_seconds != null ? Math.round(stat.oldest_age_seconds) + " s" : "–";
      var row = el("tr", { "data-queue": name }, [
        td(name), td(stat ? stat.depth : "–", "n depth"), td(age, "n age"),
      ]);
      row.appendChild(el("td", {}, [sparkline(name, history)]));
      return row;
    }), "No queue configured.", 4);

    setStatus("workers-status", o.workers, "Workers");
    var list = document.getElementById("workers-list");
    list.textContent = "";
    (o.workers.items || []).forEach(function (w) {
      list.appendChild(el("li", {}, [el("strong", { text: w.name }), " ", el("span", { className: "muted", text: w.queues.join(", ") })]));
    });

    replaceRows("outcomes-body", o.tasks_last_hour.items.map(function (item) {
      return el("tr", {}, [td(item.name, "mono"), el("td", {}, [stateBadge(item.state)]), td(item.count, "n")]);
    }), "No task ran in the last hour.", 3);

    var drifts = o.stock_drifts;
    setText("drifts-run", drifts.last_run_id ? "last run " + when(drifts.last_detected_at) : "");
    replaceRows("drifts-body", drifts.items.map(function (d) {
      return el("tr", {}, [td(d.sku, "mono"), td(d.on_hand, "n"), td(d.ledger_sum, "n"), td(d.difference, "n"), td(d.held_by_open_orders, "n"), td(d.resolved ? "yes" : "no")]);
    }), "No stock drift found by the last reconciliation.", 6);
  }

  function renderFailedTasks(page) {
    replaceRows("failed-tasks-body", page.results.map(function (t) {
      var actions = el("td", { className: "actions" });
      if (t.retryable) {
        actions.appendChild(el("button", { type: "button", className: "retry", "data-task-id": t.task_id, text: "Retry" }));
      } else {
        actions.appendChild(el("span", { className: "muted", text: "not retryable" }));
      }
      var state = el("span", { className: "retry-state" });
      if (t.last_retry) { state.appendChild(document.createTextNode("retried: ")); state.appendChild(stateBadge(t.last_retry.state)); }
      actions.appendChild(state);
      return el("tr", { "data-task-id": t.task_id }, [
        el("td", { className: "mono" }, [t.name || "", el("br"), el("span", { className: "muted", text: t.task_id })]),
        td(t.args, "mono"), td(when(t.date_done)), td(t.error, "mono error"), actions,
      ]);
    }), "No failed task results.", 5);
  }

  function renderWebhooks(page) {
    replaceRows("webhooks-body", page.results.map(function (e) {
      return el("tr", { "data-event-id": String(e.id) }, [
        td(e.provider), td(e.event_id, "mono"), td(e.type), el("td", {}, [el("span", { className: "state state-" + e.status, text: e.status })]),
        td(when(e.received_at)), td(e.last_error, "error"),
        el("td", { className: "actions" }, [el("button", { type: "button", className: "replay", "data-event-id": String(e.id), text: "Replay" }), el("span", { className: "replay-state" })]),
      ]);
    }), "No unprocessed webhook events.", 7);
  }

  function renderStuck(page) {
    replaceRows("stuck-body", page.results.map(function (p) {
      var err = p.last_error ? (p.last_error.code + " " + p.last_error.message) : "";
      return el("tr", { "data-payment-id": p.id }, [
        td(p.order.number, "mono"), td(p.order.status),
        el("td", {}, [el("span", { className: "state state-" + p.status, text: p.status }), " ", el("span", { className: "muted", text: p.provider })]),
        td(p.amount + " " + p.currency, "n"), td(p.attempts, "n"), td(when(p.last_activity_at)), td(err, "error"),
      ]);
    }), "No stuck payments.", 7);
  }

  function banner(text) {
    var node = document.getElementById("banner");
    node.textContent = text || "";
    node.hidden = !text;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401 || r.status === 403) { throw new Error("Your session has expired: reload the page to log in again."); }
      if (!r.ok) { throw new Error("The ops API answered " + r.status + " for " + url); }
      return r.json();
    });
  }

  function refresh() {
    if (busy) { return Promise.resolve(); }
    busy = true;
    var q = "page_size=" + listSize;
    return Promise.all([
      getJSON(cfg.overviewUrl).then(renderOverview),
      getJSON(cfg.tasksUrl + "?state=FAILURE&" + q).then(renderFailedTasks),
      getJSON(cfg.webhooksUrl + "?status=received&status=failed&" + q).then(renderWebhooks),
      getJSON(cfg.stuckUrl + "?" + q).then(renderStuck),
    ]).then(function () { banner(""); }, function (err) { banner(err.message); })
      .then(function () { busy = false; });
  }

  function post(url) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { throw new Error((body.details && body.details.message) || body.error || ("HTTP " + r.status)); }
        return body;
      });
    });
  }

  function act(button, url, stateClass, doneText) {
    var state = button.parentNode.querySelector("." + stateClass);
    button.disabled = true;
    state.textContent = " sending…";
    post(url).then(function () {
      state.textContent = " " + doneText;
      return refresh();
    }, function (err) {
      state.textContent = " " + err.message;
      button.disabled = false;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) { return; }
    if (button.classList.contains("retry")) {
      act(button, cfg.tasksUrl + encodeURIComponent(button.dataset.taskId) + "/retry/", "retry-state", "retry sent");
    } else if (button.classList.contains("replay")) {
      act(button, cfg.webhooksUrl + encodeURIComponent(button.dataset.eventId) + "/replay/", "replay-state", "replay sent");
    }
  });

  window.setInterval(refresh, refreshMs);
})();
