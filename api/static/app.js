// The analyst page: submit a ticker, follow its stages, read the memo. Same-origin calls only.
// Several tickers (commas or spaces between them) are one batch: each ticker is an ordinary job
// whose stage is polled from that job, its status comes from the batch, and the comparison memo
// and its chart follow once the batch has completed.
//
// Auth: with AUTH_MODE=easyauth the platform session cookie goes with every same-origin fetch.
// Otherwise (function keys in Azure) the page asks for a key the first time the API answers 401
// and keeps it in sessionStorage only, sending it as `x-functions-key`; never in a URL.
//
// History: localStorage keeps the last tickers used in this browser (no job data, no secret);
// the list is the owner's jobs for those tickers from `GET /api/analyses?ticker=`, newest first.
//
// Watchlists: `GET /api/watchlists`, the caller's watchlists with their last runs, each run's
// changes (verdict before → after per ticker) and its batch as a `#batch=<id>` link.
"use strict";

(() => {
  const STAGES = ["queued", "gathering_evidence", "writing_memo", "persisting"];
  const TERMINAL = new Set(["completed", "failed", "cancelled"]);
  const STAGE_NAMES = {
    queued: "queued",
    gathering_evidence: "gathering evidence",
    writing_memo: "writing the memo",
    persisting: "saving the memo",
    completed: "completed",
    failed: "failed",
    cancelled: "cancelled",
  };
  const GROUNDING_NAMES = {
    grounded: "Grounded",
    ungrounded: "Ungrounded",
    not_applicable: "Grounding: not applicable",
  };
  const KEY_STORE = "stockmemo.functionKey"; // sessionStorage
  const TICKER_STORE = "stockmemo.recentTickers"; // localStorage
  const MAX_TICKERS = 8;
  const PER_TICKER = 10;
  const HISTORY_SIZE = 20;
  const DEFAULT_WAIT_MS = 2000;

  // The memo as HTML. Temporary route of api/pages.py until `report?format=html` is wired.
  const memoHtmlPath = (id) => `/api/analyses/${encodeURIComponent(id)}/report?format=html`;
  const jobPath = (id) => `/api/analyses/${encodeURIComponent(id)}`;
  const batchPath = (id) => `/api/batches/${encodeURIComponent(id)}`;

  const $ = (id) => document.getElementById(id);
  const authMode = document.querySelector('meta[name="stockmemo-auth"]')?.content || "function-key";

  let following = 0; // bumps whenever another job is opened, so an older poll loop stops
  let currentJobId = null;
  let currentBatchId = null;
  const objectUrls = new Set();

  class ApiError extends Error {
    constructor(status, code, message, { field = null, value = null, retryAfter = null } = {}) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field; // which part of the request, e.g. "tickers[1]"
      this.value = value; // the offending input, as the server read it
      this.retryAfter = retryAfter; // seconds, on a 429
    }
  }

  // ---- calls to the API ----------------------------------------------------------------------

  function authHeaders() {
    const headers = new Headers({ Accept: "application/json" });
    if (authMode !== "easyauth") {
      const key = sessionStorage.getItem(KEY_STORE);
      if (key) headers.set("x-functions-key", key);
    }
    return headers;
  }

  async function api(path, { method = "GET", body, accept } = {}) {
    const headers = authHeaders();
    if (accept) headers.set("Accept", accept);
    if (body !== undefined) headers.set("Content-Type", "application/json");
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
        redirect: "manual", // Easy Auth sends an expired session to its login page
      });
    } catch (error) {
      throw new ApiError(0, "network_error", "The service could not be reached. Check your connection and try again.");
    }
    if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
      askForCredentials(response.status);
      throw new ApiError(response.status, "unauthorised", "The service needs you to sign in or give a key first.");
    }
    if (!response.ok) {
      let code = "http_" + response.status;
      let message = `The service answered ${response.status}.`;
      const details = {};
      try {
        const error = (await response.json()).error;
        if (error && typeof error.message === "string") {
          code = String(error.code || code);
          message = error.message;
          if (typeof error.field === "string") details.field = error.field;
          if (typeof error.value === "string") details.value = error.value;
        }
      } catch (_) {
        // not our JSON error body: keep the generic message
      }
      if (response.status === 429 && response.headers.get("Retry-After")) {
        const seconds = Number(response.headers.get("Retry-After"));
        if (Number.isFinite(seconds)) details.retryAfter = seconds;
      }
      throw new ApiError(response.status, code, message, details);
    }
    return response;
  }

  function askForCredentials(status) {
    if (authMode === "easyauth") {
      $("signin-panel").hidden = false;
      $("signin-reload").focus();
      return;
    }
    const hadKey = Boolean(sessionStorage.getItem(KEY_STORE));
    $("key-reason").textContent = status === 0
      ? "Enter another key. It stays in this browser tab only (session storage)."
      : hadKey
      ? `The API refused the key (${status}). Enter another one; it stays in this tab only.`
      : "The API asked for a key. It stays in this browser tab only (session storage) and is sent in the x-functions-key header, never in a URL.";
    $("key-panel").hidden = false;
    $("key-input").focus();
  }

  function retryAfterMs(response) {
    const value = response.headers.get("Retry-After");
    if (!value) return DEFAULT_WAIT_MS;
    const seconds = Number(value);
    let ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
    if (!Number.isFinite(ms)) ms = DEFAULT_WAIT_MS;
    return Math.min(Math.max(ms, 500), 60000);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---- the ticker form -------------------------------------------------------------------------

  function tickerRule() {
    const pattern = $("ticker").getAttribute("pattern");
    if (!pattern) return null;
    try {
      return new RegExp(`^(?:${pattern})$`, "v");
    } catch (_) {
      return new RegExp(`^(?:${pattern})$`, "u");
    }
  }

  function showFieldError(message) {
    const input = $("ticker");
    const error = $("ticker-error");
    if (message) {
      error.textContent = message;
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      announce(message);
    } else {
      error.textContent = "";
      error.hidden = true;
      input.removeAttribute("aria-invalid");
    }
  }

  // The tickers in the field: split on commas and white space, upper-cased, each once, in order.
  function tickersIn(text) {
    const tickers = [];
    for (const part of text.split(/[\s,]+/u)) {
      const ticker = part.toUpperCase();
      if (ticker && !tickers.includes(ticker)) tickers.push(ticker);
    }
    return tickers;
  }

  function maxBatchTickers() {
    const max = Number($("ticker").dataset.maxTickers);
    return Number.isInteger(max) && max >= 2 ? max : Infinity;
  }

  // A refused request in plain words: the server's message, then its code, field and value.
  function describeRefusal(error) {
    const parts = [error.message];
    const facts = [];
    if (error.code && error.status > 0) facts.push(`code ${error.code}`);
    if (error.field) facts.push(`field ${error.field}`);
    if (error.value !== null && error.value !== undefined) facts.push(`value “${error.value}”`);
    if (facts.length) parts.push(`(${facts.join(", ")})`);
    if (error.status === 429 && Number.isFinite(error.retryAfter)) {
      const minutes = Math.max(1, Math.ceil(error.retryAfter / 60));
      parts.push(`Try again in about ${minutes} minute${minutes === 1 ? "" : "s"}.`);
    }
    return parts.join(" ");
  }

  async function onSubmit(event) {
    event.preventDefault();
    const input = $("ticker");
    const tickers = tickersIn(input.value);
    const rule = tickerRule();
    if (tickers.length === 0) {
      showFieldError("Enter a ticker, for example MSFT.");
      input.focus();
      return;
    }
    const bad = rule ? tickers.find((t) => !rule.test(t)) : undefined;
    if (bad !== undefined) {
      showFieldError(tickers.length === 1
        ? "A ticker is 1–10 letters, digits, “.” or “-”."
        : `“${bad}” is not a ticker: a ticker is 1–10 letters, digits, “.” or “-”.`);
      input.focus();
      return;
    }
    if (tickers.length > maxBatchTickers()) {
      showFieldError(`A comparison takes 2 to ${maxBatchTickers()} tickers; this has ${tickers.length}.`);
      input.focus();
      return;
    }
    showFieldError("");
    if (tickers.length > 1) {
      await submitBatch(tickers);
      return;
    }
    const ticker = tickers[0];
    const button = $("ticker-submit");
    button.disabled = true;
    try {
      const response = await api("/api/analyses", { method: "POST", body: { ticker } });
      const created = await response.json();
      input.value = "";
      rememberTicker(ticker);
      const wait = retryAfterMs(response);
      openJob(created.id, { ticker, stage: "queued", status: "queued", firstWait: wait });
      refreshHistory();
    } catch (error) {
      showFieldError(error.message);
      // After a 401/403 the key or sign-in panel has the focus: leave it there.
      if (error.status !== 401 && error.status !== 403) input.focus();
    } finally {
      button.disabled = false;
    }
  }

  async function submitBatch(tickers) {
    const input = $("ticker");
    const button = $("ticker-submit");
    button.disabled = true;
    try {
      const response = await api("/api/batches", { method: "POST", body: { tickers } });
      const created = await response.json();
      input.value = "";
      for (const ticker of [...tickers].reverse()) rememberTicker(ticker);
      openBatch(created.id, { tickers, firstWait: retryAfterMs(response) });
      refreshHistory();
    } catch (error) {
      showFieldError(describeRefusal(error));
      if (error.status !== 401 && error.status !== 403) input.focus();
    } finally {
      button.disabled = false;
    }
  }

  // ---- one job: progress, then the result --------------------------------------------------------

  function announce(text) {
    const region = $("announcer");
    region.textContent = "";
    // A fresh text node after a tick, so screen readers announce a repeated message too.
    setTimeout(() => { region.textContent = text; }, 50);
  }

  function stageIndex(job) {
    if (TERMINAL.has(job.status)) {
      if (job.status === "completed") return STAGES.length;
      const at = job.error && STAGES.indexOf(job.error.stage);
      return at >= 0 ? at : STAGES.length;
    }
    const index = STAGES.indexOf(job.stage);
    return index >= 0 ? index : 0;
  }

  function renderStages(job) {
    const reached = stageIndex(job);
    const items = $("stages").querySelectorAll("li");
    items.forEach((item, index) => {
      let state = "pending";
      if (index < reached) state = "done";
      else if (index === reached) {
        if (job.status === "completed") state = "done";
        else if (job.status === "failed" || job.status === "cancelled") state = "failed";
        else state = "current";
      }
      if (item.dataset.stage === "final") {
        item.querySelector(".stage-label").textContent =
          job.status === "failed" ? "Failed" : job.status === "cancelled" ? "Cancelled" : "Done";
        if (TERMINAL.has(job.status)) state = job.status === "completed" ? "done" : "failed";
      }
      item.dataset.state = state;
      item.querySelector(".stage-state").textContent =
        { done: "done", current: "in progress", failed: job.status, pending: "waiting" }[state];
      if (state === "current") item.setAttribute("aria-current", "step");
      else item.removeAttribute("aria-current");
    });
  }

  function describeJob(job) {
    const ticker = job.ticker || "";
    if (job.status === "completed") {
      const verdict = job.verdict ? job.verdict.toUpperCase() : "no verdict";
      const confidence = typeof job.confidence === "number" ? job.confidence.toFixed(2) : "n/a";
      return `${ticker}: memo ready, ${verdict}, confidence ${confidence}.`;
    }
    if (job.status === "failed") {
      const message = job.error ? job.error.message : "the analysis failed";
      return `${ticker}: failed while ${STAGE_NAMES[job.error?.stage] || "running"}: ${message}`;
    }
    if (job.status === "cancelled") return `${ticker}: cancelled.`;
    return `${ticker}: ${STAGE_NAMES[job.stage] || job.stage}…`;
  }

  function revokeObjectUrls() {
    for (const url of objectUrls) URL.revokeObjectURL(url);
    objectUrls.clear();
  }

  function resetJobView(id, ticker) {
    revokeObjectUrls();
    $("batch").hidden = true;
    $("job").hidden = false;
    $("job").dataset.jobId = id;
    $("job-heading").textContent = ticker ? `Analysis of ${ticker}` : "Analysis";
    $("job-meta").textContent = `Job ${id}`;
    $("job-status").textContent = "";
    $("job-error").hidden = true;
    $("job-error").textContent = "";
    $("result").hidden = true;
    $("memo").replaceChildren();
    $("gaps-body").replaceChildren();
    $("chart-img").removeAttribute("src");
    renderStages({ stage: "queued", status: "queued" });
    markCurrentInHistory();
  }

  async function openJob(id, known = {}) {
    const token = ++following;
    currentJobId = id;
    currentBatchId = null;
    if (location.hash !== `#job=${id}`) history.replaceState(null, "", `#job=${id}`);
    resetJobView(id, known.ticker);
    let lastStatus = null;
    let wait = known.firstWait;
    if (known.stage) {
      renderStages(known);
      $("job-status").textContent = describeJob(known);
      announce(describeJob(known));
      lastStatus = `${known.status}/${known.stage}`;
    }
    if (known.focus) $("job-heading").focus();
    while (token === following) {
      if (wait !== undefined) await sleep(wait);
      if (token !== following) return;
      let response;
      let job;
      try {
        response = await api(jobPath(id));
        job = await response.json();
      } catch (error) {
        if (error.status === 404 || error.status === 401 || error.status === 403) {
          showJobError(error.message);
          return;
        }
        $("job-status").textContent = `${error.message} Retrying…`;
        wait = DEFAULT_WAIT_MS * 2;
        continue;
      }
      if (token !== following) return;
      $("job-heading").textContent = `Analysis of ${job.ticker}`;
      renderStages(job);
      const text = describeJob(job);
      $("job-status").textContent = text;
      const status = `${job.status}/${job.stage}`;
      if (status !== lastStatus) {
        announce(text);
        lastStatus = status;
      }
      updateHistoryEntry(job);
      if (TERMINAL.has(job.status)) {
        await showOutcome(job, token);
        refreshHistory();
        return;
      }
      wait = retryAfterMs(response);
    }
  }

  function showJobError(message) {
    const box = $("job-error");
    box.textContent = message;
    box.hidden = false;
  }

  async function showOutcome(job, token) {
    if (job.status === "failed") {
      const error = job.error || {};
      showJobError(`The analysis failed while ${STAGE_NAMES[error.stage] || "running"} (${error.code || "error"}): ${error.message || ""}`);
      return;
    }
    if (job.status !== "completed") {
      showJobError("The analysis was cancelled; there is no memo.");
      return;
    }
    try {
      const [memoResponse, chartResponse] = await Promise.all([
        api(memoHtmlPath(job.id), { accept: "text/html" }),
        api(`${jobPath(job.id)}/chart.svg`, { accept: "image/svg+xml" }),
      ]);
      const [html, chart] = await Promise.all([memoResponse.text(), chartResponse.blob()]);
      if (token !== following) return;
      renderBadges(job);
      renderMemo(html);
      renderChart(job, chart);
      setDownloads(job);
      $("result").hidden = false;
    } catch (error) {
      if (token === following) showJobError(`The memo could not be shown: ${error.message}`);
    }
  }

  function badge(element, text, kind) {
    element.textContent = text;
    element.className = `badge ${kind}`;
  }

  function renderBadges(job) {
    const verdict = job.verdict || "none";
    badge($("badge-verdict"), `Verdict: ${verdict.toUpperCase()}`, verdict);
    const confidence = typeof job.confidence === "number" ? job.confidence.toFixed(2) : "n/a";
    badge($("badge-confidence"), `Confidence ${confidence}`, "neutral");
    const grounding = job.grounding || "not_applicable";
    badge($("badge-grounding"), GROUNDING_NAMES[grounding] || grounding, grounding);
  }

  // The server already sanitised the memo (markdown-it without raw HTML, then nh3). It is parsed
  // in an inert document and checked once more before it joins the page: no active elements,
  // no on* attributes, links http(s) only. The page's CSP forbids inline script as a last wall.
  function safeFragment(html) {
    const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
    doc.body.querySelectorAll("script, style, iframe, object, embed, img, svg, math, form, link, meta, base")
      .forEach((node) => node.remove());
    for (const element of doc.body.querySelectorAll("*")) {
      for (const attribute of [...element.attributes]) {
        const name = attribute.name.toLowerCase();
        if (name.startsWith("on") || name === "style" || name === "srcdoc") element.removeAttribute(attribute.name);
      }
      if (element.tagName === "A") {
        const href = element.getAttribute("href");
        if (href !== null && !/^https?:\/\//i.test(href)) element.removeAttribute("href");
        if (element.hasAttribute("href")) {
          element.setAttribute("rel", "noopener noreferrer nofollow");
          element.setAttribute("target", "_blank");
        }
      }
    }
    const fragment = document.createDocumentFragment();
    fragment.append(...doc.body.childNodes);
    return fragment;
  }

  function renderMemo(html) {
    const fragment = safeFragment(html);
    const gaps = fragment.querySelector("section.memo-gaps");
    const gapsBody = $("gaps-body");
    let count = 0;
    if (gaps) {
      gaps.remove();
      gaps.querySelector("h2")?.remove();
      count = gaps.querySelectorAll("li").length;
      gapsBody.replaceChildren(...gaps.childNodes);
    } else {
      gapsBody.textContent = "The memo has no data-gaps section.";
    }
    $("gaps").classList.toggle("none", count === 0);
    badge($("badge-gaps"), count === 0 ? "No data gaps" : `${count} data gap${count === 1 ? "" : "s"}`,
      count === 0 ? "gaps-none" : "gaps-some");
    $("memo").replaceChildren(fragment);
  }

  function renderChart(job, blob) {
    const url = URL.createObjectURL(blob);
    objectUrls.add(url);
    const img = $("chart-img");
    img.src = url;
    img.alt = `Line chart: ${job.ticker} against SPY over the last year, both rebased to 100 at the first common trading day.`;
    $("chart-caption").textContent =
      `${job.ticker} (blue) and SPY (orange), closing prices rebased to 100; dates on the horizontal axis.`;
  }

  function setDownloads(job) {
    const memo = $("download-memo");
    memo.href = `${jobPath(job.id)}/report`;
    memo.download = `${job.ticker}-${job.id}-memo.md`;
    memo.dataset.accept = "text/markdown";
    const evidence = $("download-evidence");
    evidence.href = `${jobPath(job.id)}/evidence`;
    evidence.download = `${job.ticker}-${job.id}-evidence.json`;
    evidence.dataset.accept = "application/json";
  }

  // A plain link cannot send the key header, so downloads go through fetch and a blob URL.
  async function onDownload(event) {
    event.preventDefault();
    const link = event.currentTarget;
    try {
      const response = await api(link.getAttribute("href"), { accept: link.dataset.accept });
      const url = URL.createObjectURL(await response.blob());
      const temporary = document.createElement("a");
      temporary.href = url;
      temporary.download = link.download;
      document.body.append(temporary);
      temporary.click();
      temporary.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      const box = link.closest("section").querySelector(".error-box");
      box.textContent = `The download failed: ${error.message}`;
      box.hidden = false;
    }
  }

  // ---- a batch: each ticker's progress, then the comparison ------------------------------------

  // The furthest stage each child has shown, by job id, so a late answer never moves it back.
  let childStages = new Map();
  // Each failed child's own job (read once), for the message and stage of its failure.
  let childFailures = new Map();

  function resetBatchView(id, tickers) {
    revokeObjectUrls();
    $("job").hidden = true;
    $("batch").hidden = false;
    $("batch").dataset.batchId = id;
    $("batch").dataset.status = "queued";
    $("batch-heading").textContent = tickers && tickers.length
      ? `Comparison of ${tickers.join(", ")}` : "Comparison";
    $("batch-meta").textContent = `Batch ${id}`;
    $("batch-status").textContent = "";
    $("batch-error").hidden = true;
    $("batch-error").textContent = "";
    $("batch-result").hidden = true;
    $("comparison").replaceChildren();
    $("batch-chart-img").removeAttribute("src");
    $("batch-rows").replaceChildren();
    childStages = new Map();
    childFailures = new Map();
    markCurrentInHistory();
  }

  function showBatchError(message) {
    const box = $("batch-error");
    box.textContent = message;
    box.hidden = false;
  }

  const STAGE_ORDER = [...STAGES, "completed", "failed", "cancelled"];

  function furthestStage(id, stage) {
    const before = childStages.get(id);
    if (before === undefined || STAGE_ORDER.indexOf(stage) > STAGE_ORDER.indexOf(before)) {
      childStages.set(id, stage);
    }
    return childStages.get(id);
  }

  // The stage of each child: terminal children take their status from the batch, queued ones
  // are queued, and a running one is read from its own job (the batch does not carry stages).
  async function pollChildren(batch) {
    const running = batch.items.filter((item) => item.status === "running");
    const failed = batch.items.filter((item) => item.status === "failed" && !childFailures.has(item.id));
    const answers = await Promise.allSettled([...running, ...failed].map((item) =>
      api(jobPath(item.id)).then((response) => response.json())));
    for (const answer of answers) {
      if (answer.status !== "fulfilled") continue; // shown again at the next poll
      const job = answer.value;
      if (job.status === "failed") childFailures.set(job.id, job);
      else furthestStage(job.id, job.stage);
      updateHistoryEntry(job);
    }
    for (const item of batch.items) {
      if (item.status === "queued") furthestStage(item.id, "queued");
      else if (TERMINAL.has(item.status)) furthestStage(item.id, item.status);
    }
  }

  function outcomeText(item) {
    if (item.status === "completed") {
      const verdict = item.verdict ? item.verdict.toUpperCase() : "no verdict";
      const confidence = typeof item.confidence === "number" ? item.confidence.toFixed(2) : "n/a";
      return `${verdict}, confidence ${confidence}`;
    }
    if (item.status === "failed") {
      const job = childFailures.get(item.id);
      const code = item.error_code || job?.error?.code || "error";
      const where = job?.error?.stage ? ` while ${STAGE_NAMES[job.error.stage] || job.error.stage}` : "";
      const message = job?.error?.message ? `: ${job.error.message}` : "";
      return `Failed${where} (${code})${message}`;
    }
    if (item.status === "cancelled") return "Cancelled";
    return "";
  }

  function batchRow(item) {
    const row = document.createElement("tr");
    row.dataset.jobId = item.id;
    const ticker = document.createElement("th");
    ticker.scope = "row";
    const link = document.createElement("a");
    link.href = `#job=${item.id}`; // the child is an ordinary job: open it on its own
    link.textContent = item.ticker;
    link.title = `Open the analysis of ${item.ticker}`;
    ticker.append(link);
    const stage = document.createElement("td");
    stage.className = "batch-stage";
    const status = document.createElement("td");
    const statusBadge = document.createElement("span");
    status.append(statusBadge);
    const outcome = document.createElement("td");
    outcome.className = "batch-outcome";
    row.append(ticker, stage, status, outcome);
    return row;
  }

  function renderBatchRows(batch) {
    const body = $("batch-rows");
    for (const item of batch.items) {
      let row = body.querySelector(`tr[data-job-id="${CSS.escape(item.id)}"]`);
      if (!row) {
        row = batchRow(item);
        body.append(row);
      }
      const stage = childStages.get(item.id) || "queued";
      row.dataset.ticker = item.ticker;
      row.dataset.stage = stage;
      row.dataset.status = item.status;
      row.querySelector(".batch-stage").textContent = STAGE_NAMES[stage] || stage;
      badge(row.cells[2].firstElementChild, item.status, item.status);
      row.querySelector(".batch-outcome").textContent = outcomeText(item);
    }
  }

  function describeBatch(batch) {
    const counts = batch.counts || {};
    const total = batch.items.length;
    const finished = (counts.completed || 0) + (counts.failed || 0) + (counts.cancelled || 0);
    const tally = ["completed", "failed", "cancelled"]
      .filter((status) => counts[status]).map((status) => `${counts[status]} ${status}`).join(", ");
    if (batch.status === "completed") return `Comparison ready: ${tally || "no analyses"}.`;
    if (batch.status === "failed") return `The comparison failed (${tally || "no analyses finished"}).`;
    if (batch.status === "cancelled") return `The batch was cancelled (${tally || "no analyses finished"}).`;
    if (batch.status === "queued") return `Batch of ${total} queued…`;
    return `${finished} of ${total} analyses finished${tally ? ` (${tally})` : ""}…`;
  }

  async function openBatch(id, known = {}) {
    const token = ++following;
    currentBatchId = id;
    currentJobId = null;
    if (location.hash !== `#batch=${id}`) history.replaceState(null, "", `#batch=${id}`);
    resetBatchView(id, known.tickers);
    let lastText = null;
    let wait = known.firstWait;
    if (known.tickers) {
      lastText = `Batch of ${known.tickers.length} queued…`;
      $("batch-status").textContent = lastText;
      announce(lastText);
    }
    if (known.focus) $("batch-heading").focus();
    while (token === following) {
      if (wait !== undefined) await sleep(wait);
      if (token !== following) return;
      let response;
      let batch;
      try {
        response = await api(batchPath(id));
        batch = await response.json();
        await pollChildren(batch);
      } catch (error) {
        if (error.status === 404 || error.status === 401 || error.status === 403) {
          showBatchError(error.message);
          return;
        }
        $("batch-status").textContent = `${error.message} Retrying…`;
        wait = DEFAULT_WAIT_MS * 2;
        continue;
      }
      if (token !== following) return;
      $("batch-heading").textContent = `Comparison of ${batch.tickers.join(", ")}`;
      $("batch").dataset.status = batch.status;
      renderBatchRows(batch);
      const text = describeBatch(batch);
      $("batch-status").textContent = text;
      if (text !== lastText) {
        announce(text);
        lastText = text;
      }
      if (TERMINAL.has(batch.status)) {
        await showComparison(batch, token);
        refreshHistory();
        return;
      }
      wait = retryAfterMs(response);
    }
  }

  async function showComparison(batch, token) {
    if (batch.status === "failed") {
      const error = batch.error || {};
      showBatchError(`The comparison could not be made (${error.code || "error"}): ${error.message || "the batch failed"}`);
      return;
    }
    if (batch.status !== "completed") {
      showBatchError("The batch was cancelled; there is no comparison.");
      return;
    }
    try {
      const [memoResponse, chartResponse] = await Promise.all([
        api(`${batchPath(batch.id)}/report?format=html`, { accept: "text/html" }),
        api(`${batchPath(batch.id)}/chart.svg`, { accept: "image/svg+xml" }),
      ]);
      const [html, chart] = await Promise.all([memoResponse.text(), chartResponse.blob()]);
      if (token !== following) return;
      // The same walls as the memo: sanitised by the server, checked again in an inert document.
      $("comparison").replaceChildren(safeFragment(html));
      const url = URL.createObjectURL(chart);
      objectUrls.add(url);
      const img = $("batch-chart-img");
      img.src = url;
      const charted = batch.items.filter((item) => item.status === "completed").map((item) => item.ticker);
      img.alt = `Line chart: ${charted.join(", ") || "no ticker"} and the benchmark over the last year, closing prices rebased to 100.`;
      $("batch-chart-caption").textContent =
        "The completed tickers and the benchmark, closing prices rebased to 100; the legend names each line.";
      const download = $("download-comparison");
      download.href = `${batchPath(batch.id)}/report`;
      download.download = `comparison-${batch.id}.md`;
      download.dataset.accept = "text/markdown";
      $("batch-result").hidden = false;
    } catch (error) {
      if (token === following) showBatchError(`The comparison could not be shown: ${error.message}`);
    }
  }

  // ---- history ---------------------------------------------------------------------------------

  function recentTickers() {
    try {
      const stored = JSON.parse(localStorage.getItem(TICKER_STORE) || "[]");
      const rule = tickerRule();
      return Array.isArray(stored)
        ? stored.filter((t) => typeof t === "string" && (!rule || rule.test(t))).slice(0, MAX_TICKERS)
        : [];
    } catch (_) {
      return [];
    }
  }

  function rememberTicker(ticker) {
    const tickers = [ticker, ...recentTickers().filter((t) => t !== ticker)].slice(0, MAX_TICKERS);
    try {
      localStorage.setItem(TICKER_STORE, JSON.stringify(tickers));
    } catch (_) {
      // storage full or disabled: the list just will not remember
    }
  }

  let historyRequest = 0;

  async function refreshHistory() {
    const request = ++historyRequest;
    const tickers = recentTickers();
    const status = $("history-status");
    if (tickers.length === 0) {
      $("history-list").replaceChildren();
      status.textContent = "No analyses yet.";
      return;
    }
    const answers = await Promise.allSettled(tickers.map((ticker) =>
      api(`/api/analyses?ticker=${encodeURIComponent(ticker)}&limit=${PER_TICKER}`).then((r) => r.json())));
    if (request !== historyRequest) return;
    const jobs = answers
      .filter((answer) => answer.status === "fulfilled")
      .flatMap((answer) => answer.value.items || [])
      .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))
      .slice(0, HISTORY_SIZE);
    const failed = answers.some((answer) => answer.status === "rejected");
    status.textContent = failed ? "Some of the list could not be loaded." : jobs.length ? "" : "No analyses yet.";
    $("history-list").replaceChildren(...jobs.map(historyItem));
    markCurrentInHistory();
  }

  // The followed job's entry keeps up with each poll, between refreshes of the whole list.
  function updateHistoryEntry(job) {
    const button = $("history-list").querySelector(`button[data-job-id="${CSS.escape(job.id)}"]`);
    if (button) button.parentElement.replaceWith(historyItem(job));
    markCurrentInHistory();
  }

  function historyItem(job) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "history-item";
    button.dataset.jobId = job.id;
    const ticker = document.createElement("span");
    ticker.className = "history-ticker";
    ticker.textContent = job.ticker;
    const badges = document.createElement("span");
    badges.className = "history-badges";
    const status = document.createElement("span");
    badge(status, job.status, job.status);
    badges.append(status);
    if (job.verdict) {
      const verdict = document.createElement("span");
      const confidence = typeof job.confidence === "number" ? ` ${job.confidence.toFixed(2)}` : "";
      badge(verdict, `${job.verdict.toUpperCase()}${confidence}`, job.verdict);
      badges.append(verdict);
    }
    const when = document.createElement("time");
    when.className = "history-when";
    when.dateTime = job.created_at;
    when.textContent = new Date(job.created_at).toLocaleString();
    button.append(ticker, badges, when);
    button.addEventListener("click", () => openJob(job.id, { ticker: job.ticker, focus: true }));
    item.append(button);
    return item;
  }

  function markCurrentInHistory() {
    for (const button of $("history-list").querySelectorAll("button.history-item")) {
      button.setAttribute("aria-current", String(button.dataset.jobId === currentJobId));
    }
  }

  // ---- watchlists -------------------------------------------------------------------------------

  const RUNS_SHOWN = 3;
  let watchlistsRequest = 0;

  async function refreshWatchlists() {
    const request = ++watchlistsRequest;
    const status = $("watchlists-status");
    let items;
    try {
      items = (await (await api("/api/watchlists")).json()).items || [];
    } catch (error) {
      if (request !== watchlistsRequest) return;
      status.textContent = error.status === 401 || error.status === 403
        ? "Give a key to see your watchlists."
        : `The watchlists could not be loaded (${error.code}).`;
      return;
    }
    if (request !== watchlistsRequest) return;
    status.textContent = items.length ? "" : "No watchlists yet.";
    $("watchlists-list").replaceChildren(...items.map(watchlistItem));
  }

  function textElement(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    element.textContent = text;
    return element;
  }

  function timeElement(value) {
    const when = document.createElement("time");
    when.dateTime = String(value);
    const date = new Date(value);
    when.textContent = Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
    return when;
  }

  // `AAPL hold → buy`, `MSFT new: buy` (a first memo), `NVDA no memo` (this run wrote none).
  function changeText(change) {
    const ticker = String(change.ticker || "?");
    const before = change.verdict_before;
    const after = change.verdict_after;
    let text = after == null ? `${ticker} no memo`
      : before == null ? `${ticker} new: ${after}`
      : `${ticker} ${before} → ${after}`;
    if (typeof change.excess_return === "number" && Number.isFinite(change.excess_return)) {
      const percent = (change.excess_return * 100).toFixed(1);
      text += ` (${change.excess_return >= 0 ? "+" : ""}${percent}% vs benchmark)`;
    }
    return text;
  }

  function runItem(run) {
    const item = document.createElement("li");
    item.className = "watch-run";
    item.dataset.runId = String(run.run_id || "");
    item.dataset.status = String(run.status || "");
    const head = document.createElement("span");
    head.className = "watch-run-head";
    const status = document.createElement("span");
    badge(status, String(run.status || "?"), String(run.status || ""));
    head.append(status, " ", timeElement(run.started_at));
    if (run.reason) head.append(" ", textElement("span", "hint", String(run.reason)));
    if (typeof run.batch_id === "string" && /^[0-9a-zA-Z]+$/.test(run.batch_id)) {
      const link = textElement("a", "watch-batch", "Open the comparison");
      link.href = `#batch=${run.batch_id}`;
      head.append(" ", link);
    }
    item.append(head);
    const changes = Array.isArray(run.changes) ? run.changes : [];
    if (changes.length) {
      const list = document.createElement("ul");
      list.className = "watch-changes";
      for (const change of changes) {
        const line = textElement("li", "watch-change", changeText(change));
        line.dataset.ticker = String(change.ticker || "");
        if (change.verdict_before != null && change.verdict_after != null
            && change.verdict_before !== change.verdict_after) line.dataset.changed = "true";
        list.append(line);
      }
      item.append(list);
    }
    return item;
  }

  function watchlistItem(watchlist) {
    const item = document.createElement("li");
    item.className = "watchlist";
    item.dataset.name = String(watchlist.name || "");
    const title = textElement("h3", "watchlist-name", String(watchlist.name || ""));
    const facts = document.createElement("p");
    facts.className = "watchlist-facts";
    const tickers = Array.isArray(watchlist.tickers) ? watchlist.tickers.map(String) : [];
    facts.append(
      textElement("span", "watchlist-tickers", tickers.join(", ")),
      " · schedule ",
      textElement("code", "watchlist-schedule", String(watchlist.schedule || "")),
      " (UTC) · next run ",
    );
    if (watchlist.next_run_at) facts.append(timeElement(watchlist.next_run_at));
    else facts.append("none");
    item.append(title, facts);
    const runs = Array.isArray(watchlist.runs) ? watchlist.runs.slice(0, RUNS_SHOWN) : [];
    if (runs.length) {
      const list = document.createElement("ol");
      list.className = "watch-runs";
      list.setAttribute("aria-label", `Last runs of ${watchlist.name}`);
      list.append(...runs.map(runItem));
      item.append(list);
    } else {
      item.append(textElement("p", "hint watch-no-runs", "No runs yet."));
    }
    return item;
  }

  // ---- start -----------------------------------------------------------------------------------

  function onKeySubmit(event) {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    $("key-input").value = "";
    $("key-panel").hidden = true;
    $("key-open").hidden = false;
    $("ticker").focus();
    refreshHistory();
    refreshWatchlists();
    if (currentJobId) openJob(currentJobId, {});
    else if (currentBatchId) openBatch(currentBatchId, {});
  }

  function start() {
    $("ticker-form").addEventListener("submit", onSubmit);
    $("ticker").addEventListener("input", () => showFieldError(""));
    $("history-refresh").addEventListener("click", refreshHistory);
    $("watchlists-refresh").addEventListener("click", refreshWatchlists);
    $("download-memo").addEventListener("click", onDownload);
    $("download-evidence").addEventListener("click", onDownload);
    $("download-comparison").addEventListener("click", onDownload);
    $("key-form").addEventListener("submit", onKeySubmit);
    $("key-forget").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORE);
      $("key-input").focus();
    });
    $("key-open").addEventListener("click", () => askForCredentials(0));
    $("signin-reload").addEventListener("click", () => location.reload());
    if (authMode !== "easyauth" && sessionStorage.getItem(KEY_STORE)) $("key-open").hidden = false;
    window.addEventListener("hashchange", openFromHash);
    refreshHistory();
    // Without a key the first call would be refused and open the key form before the analyst
    // asked for anything: the list waits for a key (or the Refresh button) instead.
    if (authMode === "easyauth" || sessionStorage.getItem(KEY_STORE)) refreshWatchlists();
    else $("watchlists-status").textContent = "Give a function key, or refresh, to see your watchlists.";
    openFromHash();
  }

  // `#job=<id>` opens that job, `#batch=<id>` that batch: links to them, and the back button, work.
  function openFromHash() {
    const match = /^#(job|batch)=([0-9a-zA-Z]+)$/.exec(location.hash);
    if (!match) return;
    if (match[1] === "job" && match[2] !== currentJobId) openJob(match[2], {});
    if (match[1] === "batch" && match[2] !== currentBatchId) openBatch(match[2], {});
  }

  start();
})();
