// reelay playground: a small, dependency-free client of this gateway's own
// API. The key or browser token lives in memory (and, if asked, in this
// tab's sessionStorage); it is sent only to this page's origin.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const STORE = "reelay.playground.key";
  const POLL_MS = 2000;
  const state = { key: "", models: [], job: null, pollTimer: 0, blobUrl: "", rt: null, live: null };

  // ---- errors a person can read ----

  /** A readable error from a failed response (the gateway's JSON error). */
  async function responseError(resp) {
    let body = null;
    try {
      body = await resp.json();
    } catch (_) {
      /* not JSON */
    }
    const e = (body && body.error) || {};
    const code = typeof e.code === "string" ? e.code : "";
    const retryAfter = Number(resp.headers.get("retry-after"));
    return {
      status: resp.status,
      code,
      title: titleFor(resp.status, code),
      message: e.message || `${resp.status} ${resp.statusText || "error"}`,
      retryAfter: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 0,
      requestId: resp.headers.get("x-request-id") || "",
    };
  }

  function titleFor(status, code) {
    const titles = {
      missing_api_key: "Enter a key first",
      invalid_api_key: "That key was not accepted",
      key_expired: "This key has expired",
      invalid_browser_token: "That browser token is not valid",
      browser_token_expired: "Your browser token has expired",
      browser_token_not_allowed: "A browser token cannot do this",
      origin_not_allowed: "This site may not use that key",
      key_model_access_denied: "This key may not use that model",
      model_not_found: "No such model on this gateway",
      content_policy_violation: "The provider's safety system blocked this",
      video_not_found: "Video not found",
      video_not_ready: "The video is not ready yet",
      video_failed: "The video failed",
      payload_too_large: "The file is too large",
      unsupported_value: "The provider cannot do that",
      invalid_request: "Please check the form",
    };
    if (titles[code]) return titles[code];
    if (status === 429) return "Too many requests";
    if (status >= 500) return "The gateway or the provider had a problem";
    return "Request failed";
  }

  function networkError(err) {
    return {
      status: 0,
      code: "network",
      title: "Could not reach the gateway",
      message: `Check your connection and try again. (${err && err.message ? err.message : err})`,
      retryAfter: 0,
      requestId: "",
    };
  }

  function showError(id, err) {
    const box = $(id);
    box.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = err.title;
    const p = document.createElement("p");
    p.textContent = err.message;
    box.append(strong, p);
    if (err.retryAfter) {
      const r = document.createElement("p");
      r.textContent = `You can try again in ${formatSeconds(err.retryAfter)}.`;
      box.append(r);
    }
    const meta = [];
    if (err.code) meta.push(`code: ${err.code}`);
    if (err.status) meta.push(`HTTP ${err.status}`);
    if (err.requestId) meta.push(`request id: ${err.requestId}`);
    if (meta.length) {
      const m = document.createElement("p");
      m.className = "meta mono";
      m.textContent = meta.join(" · ");
      box.append(m);
    }
    box.hidden = false;
    box.dataset.code = err.code || "";
  }

  function clearError(id) {
    const box = $(id);
    box.hidden = true;
    box.replaceChildren();
    box.dataset.code = "";
  }

  function formatSeconds(s) {
    if (s < 60) return `${s} second${s === 1 ? "" : "s"}`;
    const m = Math.ceil(s / 60);
    return `${m} minute${m === 1 ? "" : "s"}`;
  }

  function setStatus(id, text, ok) {
    const el = $(id);
    el.textContent = text;
    el.classList.toggle("ok", Boolean(ok));
  }

  // ---- talking to the gateway ----

  /** fetch with the key; resolves to the Response, or throws a readable error. */
  async function api(path, options = {}) {
    if (!state.key) {
      throw { status: 0, code: "missing_api_key", title: "Enter a key first", message: "Paste a key or browser token in step 1.", retryAfter: 0, requestId: "" };
    }
    const headers = new Headers(options.headers || {});
    headers.set("authorization", `Bearer ${state.key}`);
    let resp;
    try {
      resp = await fetch(path, { ...options, headers, credentials: "omit", cache: "no-store" });
    } catch (err) {
      throw networkError(err);
    }
    if (!resp.ok) throw await responseError(resp);
    return resp;
  }

  // ---- 1. credentials ----

  async function useKey(key) {
    state.key = key.trim();
    clearError("cred-error");
    if (!state.key) return;
    if ($("cred-remember").checked) sessionStorage.setItem(STORE, state.key);
    setStatus("cred-status", "Checking the key…");
    try {
      const resp = await api("/v1/models");
      const body = await resp.json();
      state.models = (body.data || []).map((m) => m.id).filter(Boolean);
      fillModels();
      const kind = state.key.startsWith("bt_rl_") ? "Browser token" : "Key";
      const n = state.models.length;
      setStatus("cred-status", `${kind} accepted: ${n} model${n === 1 ? "" : "s"} available.`, true);
      refreshList();
    } catch (err) {
      setStatus("cred-status", "");
      showError("cred-error", err);
    }
  }

  function fillModels() {
    const video = state.models.filter((m) => !/realtime/i.test(m) && !/^gpt-/i.test(m));
    const realtime = state.models.filter((m) => /realtime/i.test(m));
    fillSelect($("video-model"), video, "No video models for this key");
    fillSelect($("rt-model"), realtime, "No realtime models for this key");
    const live = state.models.filter((m) => /^gpt-live/i.test(m));
    fillSelect($("live-model"), live, "No GPT-Live models for this key");
  }

  function fillSelect(select, items, emptyText) {
    select.replaceChildren();
    if (!items.length) {
      select.append(new Option(emptyText, ""));
      return;
    }
    for (const id of items) select.append(new Option(id, id));
  }

  function forget() {
    sessionStorage.removeItem(STORE);
    state.key = "";
    state.models = [];
    $("cred-key").value = "";
    $("cred-remember").checked = false;
    fillSelect($("video-model"), [], "Enter a key first");
    fillSelect($("rt-model"), [], "Enter a key first");
    fillSelect($("live-model"), [], "Enter a key first");
    $("video-list").replaceChildren();
    setStatus("list-status", "Enter a key to see your videos.");
    setStatus("cred-status", "Forgotten. Nothing is stored in this tab.");
    clearError("cred-error");
  }

  // ---- 2. generate ----

  async function createVideo(ev) {
    ev.preventDefault();
    clearError("video-error");
    const form = $("video-form");
    const model = form.model.value;
    const prompt = form.prompt.value.trim();
    if (!model) {
      showError("video-error", { title: "Choose a model", message: "Enter a key in step 1 to load the models it may use.", code: "", status: 0, retryAfter: 0, requestId: "" });
      $("video-model").focus();
      return;
    }
    if (!prompt) {
      showError("video-error", { title: "Describe the video", message: "The prompt is required.", code: "", status: 0, retryAfter: 0, requestId: "" });
      $("video-prompt").focus();
      return;
    }
    const file = form.input_reference.files[0];
    let body;
    const headers = {};
    if (file) {
      body = new FormData();
      body.append("model", model);
      body.append("prompt", prompt);
      body.append("size", form.size.value);
      body.append("seconds", form.seconds.value);
      body.append("input_reference", file, file.name);
    } else {
      body = JSON.stringify({ model, prompt, size: form.size.value, seconds: form.seconds.value });
      headers["content-type"] = "application/json";
    }
    const button = $("video-submit");
    button.disabled = true;
    stopPolling();
    hidePlayer();
    setStatus("job-status", "Submitting…");
    try {
      const resp = await api("/v1/videos", { method: "POST", body, headers });
      const video = await resp.json();
      showJob(video);
      schedulePoll(video.id, POLL_MS);
      refreshList();
    } catch (err) {
      setStatus("job-status", "Not started.");
      showError("video-error", err);
    } finally {
      button.disabled = false;
    }
  }

  function showJob(video) {
    state.job = video.id;
    const idLine = $("job-id");
    idLine.textContent = `id: ${video.id}`;
    idLine.hidden = false;
    const bar = $("job-progress");
    const progress = Number(video.progress) || 0;
    switch (video.status) {
      case "queued":
        setStatus("job-status", "Queued: waiting for the provider to start…");
        bar.hidden = false;
        bar.value = progress;
        break;
      case "in_progress":
        setStatus("job-status", `Generating… ${progress}%`);
        bar.hidden = false;
        bar.value = progress;
        break;
      case "completed":
        setStatus("job-status", "Done: loading the video…", true);
        bar.hidden = false;
        bar.value = 100;
        break;
      case "failed": {
        bar.hidden = true;
        setStatus("job-status", "The video failed.");
        const e = video.error || {};
        showError("video-error", {
          title: titleFor(400, e.code || "video_failed"),
          message: e.message || "The provider reported a failure without details.",
          code: e.code || "video_failed",
          status: 0,
          retryAfter: 0,
          requestId: "",
        });
        break;
      }
      default:
        setStatus("job-status", `Status: ${video.status}`);
    }
  }

  function schedulePoll(id, ms) {
    stopPolling();
    state.pollTimer = setTimeout(() => poll(id), ms);
  }

  function stopPolling() {
    if (state.pollTimer) clearTimeout(state.pollTimer);
    state.pollTimer = 0;
  }

  async function poll(id) {
    if (state.job !== id) return;
    try {
      const resp = await api(`/v1/videos/${encodeURIComponent(id)}`);
      const video = await resp.json();
      if (state.job !== id) return;
      showJob(video);
      if (video.status === "completed") {
        await play(id);
        refreshList();
      } else if (video.status === "failed") {
        refreshList();
      } else {
        schedulePoll(id, POLL_MS);
      }
    } catch (err) {
      if (err.status === 429 && err.retryAfter) {
        setStatus("job-status", `Rate limited: checking again in ${formatSeconds(err.retryAfter)}.`);
        schedulePoll(id, err.retryAfter * 1000);
        return;
      }
      showError("video-error", err);
      if (err.status >= 500 || err.status === 0) {
        setStatus("job-status", "Lost contact: retrying in 5 seconds…");
        schedulePoll(id, 5000);
      }
    }
  }

  async function play(id) {
    clearError("video-error");
    state.job = id;
    setStatus("job-status", "Downloading the video…");
    try {
      const resp = await api(`/v1/videos/${encodeURIComponent(id)}/content`);
      const blob = await resp.blob();
      if (state.blobUrl) URL.revokeObjectURL(state.blobUrl);
      state.blobUrl = URL.createObjectURL(blob.type ? blob : new Blob([blob], { type: "video/mp4" }));
      const player = $("player");
      player.src = state.blobUrl;
      player.hidden = false;
      const link = $("download");
      link.href = state.blobUrl;
      link.download = `${id.slice(0, 24)}.mp4`;
      link.hidden = false;
      const idLine = $("job-id");
      idLine.textContent = `id: ${id}`;
      idLine.hidden = false;
      $("job-progress").hidden = true;
      setStatus("job-status", `Ready: ${Math.max(1, Math.round(blob.size / 1024))} KB video.`, true);
    } catch (err) {
      setStatus("job-status", "The video could not be loaded.");
      showError("video-error", err);
    }
  }

  function hidePlayer() {
    const player = $("player");
    player.pause();
    player.removeAttribute("src");
    player.hidden = true;
    $("download").hidden = true;
    if (state.blobUrl) URL.revokeObjectURL(state.blobUrl);
    state.blobUrl = "";
  }

  // ---- 3. list and delete ----

  async function refreshList() {
    clearError("list-error");
    if (!state.key) return;
    setStatus("list-status", "Loading…");
    try {
      const resp = await api("/v1/videos?limit=20&order=desc");
      const body = await resp.json();
      renderList(body.data || []);
    } catch (err) {
      setStatus("list-status", "");
      showError("list-error", err);
    }
  }

  function renderList(videos) {
    const list = $("video-list");
    list.replaceChildren();
    if (!videos.length) {
      setStatus("list-status", "No videos yet.");
      return;
    }
    setStatus("list-status", `${videos.length} video${videos.length === 1 ? "" : "s"}.`);
    for (const v of videos) {
      const li = document.createElement("li");
      li.dataset.id = v.id;
      const what = document.createElement("div");
      what.className = "what";
      const title = document.createElement("p");
      const badge = document.createElement("span");
      badge.className = `badge ${v.status}`;
      badge.textContent = v.status.replace("_", " ");
      title.append(badge, ` ${v.model || ""} · ${v.size || "?"} · ${v.seconds || "?"} s`);
      const when = document.createElement("p");
      when.className = "hint";
      const created = v.created_at ? new Date(v.created_at * 1000).toLocaleString() : "";
      when.textContent = `${created}${v.prompt ? ` · “${truncate(v.prompt, 80)}”` : ""}`;
      const id = document.createElement("p");
      id.className = "mono small hint";
      id.textContent = v.id;
      what.append(title, when, id);
      const actions = document.createElement("div");
      actions.className = "actions";
      if (v.status === "completed") {
        const playBtn = button("Play", "ghost", () => {
          stopPolling();
          play(v.id);
          $("player").scrollIntoView({ behavior: "smooth", block: "nearest" });
        });
        playBtn.setAttribute("aria-label", `Play video ${v.id.slice(0, 16)}`);
        actions.append(playBtn);
      } else if (v.status === "queued" || v.status === "in_progress") {
        const follow = button("Follow", "ghost", () => {
          showJob(v);
          schedulePoll(v.id, 0);
        });
        follow.setAttribute("aria-label", `Follow video ${v.id.slice(0, 16)}`);
        actions.append(follow);
      }
      const del = button("Delete", "danger", () => removeVideo(v.id));
      del.setAttribute("aria-label", `Delete video ${v.id.slice(0, 16)}`);
      actions.append(del);
      li.append(what, actions);
      list.append(li);
    }
  }

  function truncate(text, n) {
    return text.length > n ? `${text.slice(0, n - 1)}…` : text;
  }

  function button(text, cls, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  async function removeVideo(id) {
    if (!window.confirm("Delete this video? This cannot be undone.")) return;
    clearError("list-error");
    try {
      await api(`/v1/videos/${encodeURIComponent(id)}`, { method: "DELETE" });
      if (state.job === id) {
        stopPolling();
        hidePlayer();
        state.job = null;
        $("job-id").hidden = true;
        setStatus("job-status", "Deleted.");
      }
      setStatus("list-status", "Deleted.");
      await refreshList();
    } catch (err) {
      showError("list-error", err);
    }
  }

  // ---- 4. realtime voice (WebRTC) ----

  function rtLog(text) {
    const li = document.createElement("li");
    li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
    const log = $("rt-log");
    log.append(li);
    while (log.children.length > 200) log.firstChild.remove();
    log.scrollTop = log.scrollHeight;
  }

  /** Shows the states of `rt` (the current session unless given). */
  function rtStates(rt = state.rt) {
    $("rt-signaling").textContent = rt && rt.pc ? rt.pc.signalingState : "—";
    $("rt-connection").textContent = rt && rt.pc ? rt.pc.connectionState : "—";
    $("rt-channel").textContent = rt && rt.dc ? rt.dc.readyState : "—";
  }

  async function startRealtime(ev) {
    ev.preventDefault();
    clearError("rt-error");
    const model = $("rt-model").value;
    if (!model) {
      showError("rt-error", { title: "Choose a realtime model", message: "This key has no realtime model, or no key is entered yet.", code: "", status: 0, retryAfter: 0, requestId: "" });
      return;
    }
    if (!window.RTCPeerConnection) {
      showError("rt-error", { title: "WebRTC is not available", message: "This browser cannot start a realtime session.", code: "", status: 0, retryAfter: 0, requestId: "" });
      return;
    }
    stopRealtime();
    $("rt-start").disabled = true;
    $("rt-stop").disabled = false;
    const rt = { pc: null, dc: null, stream: null, callId: "" };
    state.rt = rt;
    try {
      setStatus("rt-status", "Minting a realtime token…");
      const secretResp = await api("/v1/realtime/client_secrets", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ session: { type: "realtime", model } }),
      });
      const secret = await secretResp.json();
      const ephemeral = secret.value || (secret.client_secret && secret.client_secret.value);
      if (!ephemeral) throw { title: "No realtime token", message: "The gateway answered without a token.", code: "", status: 0, retryAfter: 0, requestId: "" };
      rtLog(`realtime token minted (expires ${new Date(secret.expires_at * 1000).toLocaleTimeString()})`);

      setStatus("rt-status", "Asking for the microphone…");
      rt.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      rt.pc = new RTCPeerConnection();
      for (const track of rt.stream.getTracks()) rt.pc.addTrack(track, rt.stream);
      rt.pc.ontrack = (e) => {
        $("rt-audio").srcObject = e.streams[0];
        rtLog("remote audio track received");
      };
      for (const evName of ["signalingstatechange", "connectionstatechange", "iceconnectionstatechange"]) {
        rt.pc.addEventListener(evName, () => {
          rtStates(rt);
          rtLog(`${evName.replace("statechange", "")}: ${evName.startsWith("ice") ? rt.pc.iceConnectionState : evName.startsWith("signal") ? rt.pc.signalingState : rt.pc.connectionState}`);
        });
      }
      rt.dc = rt.pc.createDataChannel("oai-events");
      rt.dc.addEventListener("open", () => { rtStates(rt); rtLog("data channel open"); });
      rt.dc.addEventListener("close", () => { rtStates(rt); rtLog("data channel closed"); });
      rt.dc.addEventListener("message", (e) => {
        let type = "message";
        try { type = JSON.parse(e.data).type || type; } catch (_) { /* not JSON */ }
        rtLog(`event: ${type}`);
      });
      rtStates(rt);

      setStatus("rt-status", "Exchanging the session description…");
      const offer = await rt.pc.createOffer();
      await rt.pc.setLocalDescription(offer);
      rtStates(rt);
      let callResp;
      try {
        callResp = await fetch("/v1/realtime/calls", {
          method: "POST",
          headers: { authorization: `Bearer ${ephemeral}`, "content-type": "application/sdp" },
          body: offer.sdp,
          credentials: "omit",
        });
      } catch (err) {
        throw networkError(err);
      }
      if (!callResp.ok) throw await responseError(callResp);
      const location = callResp.headers.get("location") || "";
      rt.callId = location.split("/").pop() || "";
      const answer = await callResp.text();
      rtLog(`SDP answer received (${answer.length} bytes)${rt.callId ? `, call ${rt.callId.slice(0, 18)}…` : ""}`);
      await rt.pc.setRemoteDescription({ type: "answer", sdp: answer });
      rtStates(rt);
      setStatus("rt-status", "Session description exchanged: connecting media…", true);
      $("rt-status").dataset.phase = "answered";
    } catch (err) {
      const readable = err && err.title ? err : { title: "The session could not start", message: String((err && err.message) || err), code: (err && err.name) || "", status: 0, retryAfter: 0, requestId: "" };
      showError("rt-error", readable);
      setStatus("rt-status", "Not connected.");
      stopRealtime(true);
    }
  }

  function stopRealtime(keepLog) {
    const rt = state.rt;
    if (rt) {
      if (rt.dc) rt.dc.close();
      if (rt.pc) rt.pc.close();
      if (rt.stream) for (const t of rt.stream.getTracks()) t.stop();
      if (!keepLog) rtLog("hung up");
      rtStates(rt);
    }
    state.rt = null;
    $("rt-audio").srcObject = null;
    $("rt-start").disabled = false;
    $("rt-stop").disabled = true;
  }

  // ---- 5. GPT-Live voice (WebRTC, JSON offer/answer) ----

  function liveLog(text) {
    const li = document.createElement("li");
    li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
    const log = $("live-log");
    log.append(li);
    while (log.children.length > 200) log.firstChild.remove();
    log.scrollTop = log.scrollHeight;
  }

  function liveStates(live = state.live) {
    $("live-signaling").textContent = live && live.pc ? live.pc.signalingState : "—";
    $("live-connection").textContent = live && live.pc ? live.pc.connectionState : "—";
    $("live-session").textContent = live && live.id ? `${live.id.slice(0, 18)}…` : "—";
  }

  async function startLive(ev) {
    ev.preventDefault();
    clearError("live-error");
    const model = $("live-model").value;
    if (!model) {
      showError("live-error", { title: "Choose a GPT-Live model", message: "This key has no GPT-Live model, or no key is entered yet.", code: "", status: 0, retryAfter: 0, requestId: "" });
      return;
    }
    if (!window.RTCPeerConnection) {
      showError("live-error", { title: "WebRTC is not available", message: "This browser cannot start a live session.", code: "", status: 0, retryAfter: 0, requestId: "" });
      return;
    }
    stopLive(true);
    $("live-start").disabled = true;
    $("live-stop").disabled = false;
    const live = { pc: null, dc: null, stream: null, id: "" };
    state.live = live;
    try {
      setStatus("live-status", "Asking for the microphone…");
      live.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      live.pc = new RTCPeerConnection();
      for (const track of live.stream.getTracks()) live.pc.addTrack(track, live.stream);
      live.pc.ontrack = (e) => {
        $("live-audio").srcObject = e.streams[0];
        liveLog("remote audio track received");
      };
      for (const evName of ["signalingstatechange", "connectionstatechange"]) {
        live.pc.addEventListener(evName, () => {
          liveStates(live);
          liveLog(`${evName.replace("statechange", "")}: ${evName.startsWith("signal") ? live.pc.signalingState : live.pc.connectionState}`);
        });
      }
      live.dc = live.pc.createDataChannel("oai-events");
      live.dc.addEventListener("open", () => liveLog("data channel open"));
      live.dc.addEventListener("message", (e) => {
        let type = "message";
        try { type = JSON.parse(e.data).type || type; } catch (_) { /* not JSON */ }
        liveLog(`event: ${type}`);
      });

      setStatus("live-status", "Posting the offer…");
      const offer = await live.pc.createOffer();
      await live.pc.setLocalDescription(offer);
      liveStates(live);
      const resp = await api("/v1/live/sessions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ session: { model }, transport: { type: "webrtc", sdp: offer.sdp } }),
      });
      const answer = await resp.json();
      const sdp = answer && answer.transport && answer.transport.sdp;
      if (!sdp) throw { title: "No SDP answer", message: "The gateway answered without a session description.", code: "", status: 0, retryAfter: 0, requestId: "" };
      live.id = (answer.session && answer.session.id) || "";
      liveLog(`live session ${live.id.slice(0, 18)}… answered (${sdp.length} bytes of SDP)`);
      await live.pc.setRemoteDescription({ type: "answer", sdp });
      liveStates(live);
      setStatus("live-status", "Offer answered: connecting media…", true);
      $("live-status").dataset.phase = "answered";
    } catch (err) {
      const readable = err && err.title ? err : { title: "The live session could not start", message: String((err && err.message) || err), code: (err && err.name) || "", status: 0, retryAfter: 0, requestId: "" };
      showError("live-error", readable);
      setStatus("live-status", "Not connected.");
      stopLive(true);
    }
  }

  /** Closes the connection; the session is hung up at the gateway unless `local`. */
  function stopLive(local) {
    const live = state.live;
    if (live) {
      if (live.dc) live.dc.close();
      if (live.pc) live.pc.close();
      if (live.stream) for (const t of live.stream.getTracks()) t.stop();
      if (!local && live.id) {
        api(`/v1/live/sessions/${encodeURIComponent(live.id)}/hangup`, { method: "POST" })
          .then(() => { liveLog("hung up"); $("live-status").dataset.phase = "ended"; })
          .catch((err) => showError("live-error", err));
      }
      liveStates(live);
    }
    state.live = null;
    $("live-audio").srcObject = null;
    $("live-start").disabled = false;
    $("live-stop").disabled = true;
  }

  // ---- wiring ----

  document.addEventListener("DOMContentLoaded", () => {
    $("origin").textContent = window.location.origin;
    $("cred-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      useKey($("cred-key").value);
    });
    $("cred-remember").addEventListener("change", (ev) => {
      if (ev.target.checked && state.key) sessionStorage.setItem(STORE, state.key);
      if (!ev.target.checked) sessionStorage.removeItem(STORE);
    });
    $("cred-forget").addEventListener("click", forget);
    $("video-form").addEventListener("submit", createVideo);
    $("list-refresh").addEventListener("click", refreshList);
    $("rt-form").addEventListener("submit", startRealtime);
    $("rt-stop").addEventListener("click", () => {
      stopRealtime();
      setStatus("rt-status", "Not connected.");
    });
    $("live-form").addEventListener("submit", startLive);
    $("live-stop").addEventListener("click", () => {
      stopLive(false);
      setStatus("live-status", "Not connected.");
    });
    const saved = sessionStorage.getItem(STORE);
    if (saved) {
      $("cred-key").value = saved;
      $("cred-remember").checked = true;
      useKey(saved);
    }
  });
})();
