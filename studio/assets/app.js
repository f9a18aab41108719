// The studio's page: the simulator and the diagram. It talks to the
// gateway's /studio/api/ with the login cookie; every change is a JSON
// POST (see studio/auth.go). No libraries, nothing loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
let services = [];
let steps = 0; // answers shown so far, in body's data-step (tests wait on it)

async function call(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch("/studio/api/" + path, opts);
  if (r.status === 401) { location.href = "/studio/login"; throw new Error("logged out"); }
  const ct = r.headers.get("Content-Type") || "";
  const data = ct.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new Error((data && data.error) || r.statusText);
  return data;
}

function fillLangs(sel, svc) {
  sel.replaceChildren();
  for (const l of (svc ? svc.languages : [])) {
    const o = new Option(l, l);
    if (l === svc.default_language) o.selected = true;
    sel.append(o);
  }
}

function svcById(id) { return services.find((s) => s.id === id); }

function show(v) {
  document.body.dataset.step = String(++steps);
  $("number").textContent = v.number;
  const screen = $("screen");
  screen.textContent = v.text || (v.active ? "" : "Dial a code to start.");
  screen.classList.toggle("end", !!v.end);
  const g = v.length;
  if (g) {
    $("gauge-text").textContent = g.units + " / " + g.max + " characters";
    $("encoding").textContent = g.encoding;
    const fill = $("gauge-fill");
    fill.style.width = Math.min(100, (100 * g.units) / g.max) + "%";
    fill.classList.toggle("over", !g.fits);
  } else {
    $("gauge-text").textContent = "";
    $("encoding").textContent = "";
    $("gauge-fill").style.width = "0";
  }
  $("input").disabled = $("send").disabled = $("hangup").disabled = !v.active;
  if (v.active) $("input").focus();
  $("error").textContent = v.error || "";
  const tb = $("vars").tBodies[0];
  tb.replaceChildren();
  for (const k of Object.keys(v.vars).sort()) {
    const tr = tb.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = v.vars[k];
  }
  const inbox = $("inbox");
  inbox.replaceChildren();
  for (const m of v.inbox) {
    const li = document.createElement("li");
    const t = document.createElement("div");
    t.className = "sms-text";
    t.textContent = m.text;
    const meta = document.createElement("div");
    meta.className = "meta";
    const L = m.length;
    meta.textContent = new Date(m.at).toLocaleTimeString() + " · " + m.from + " · " + L.units + " characters, " +
      L.encoding + ", " + L.parts + (L.parts === 1 ? " SMS" : " SMS parts");
    li.append(t, meta);
    inbox.append(li);
  }
}

async function act(method, path, body) {
  try { show(await call(method, path, body)); } catch (e) { $("error").textContent = e.message; }
}

async function drawDiagram() {
  const svc = $("d-service").value;
  // Empty dates: the gateway's default, the last 7 days of the service's
  // own calendar (the browser's date may be another day there).
  const q = new URLSearchParams({ lang: $("d-lang").value });
  if ($("d-from").value) q.set("from", $("d-from").value);
  if ($("d-to").value) q.set("to", $("d-to").value);
  try {
    const svg = await call("GET", "diagram/" + encodeURIComponent(svc) + "?" + q);
    // The SVG is drawn by the gateway with every text escaped.
    $("diagram").innerHTML = svg;
    document.body.dataset.diagram = svc;
  } catch (e) {
    $("diagram").textContent = e.message;
  }
}

function tab(name) {
  $("sim").classList.toggle("hidden", name !== "sim");
  $("diagram-panel").classList.toggle("hidden", name !== "diagram");
  $("tab-sim").classList.toggle("active", name === "sim");
  $("tab-diagram").classList.toggle("active", name === "diagram");
  if (name === "diagram") {
    // The service being tried in the simulator, unless another was chosen.
    if (!$("d-service").dataset.chosen && $("d-service").value !== $("service").value) {
      $("d-service").value = $("service").value;
      fillLangs($("d-lang"), svcById($("d-service").value));
    }
    drawDiagram();
  }
}

async function init() {
  services = await call("GET", "services");
  for (const sel of [$("service"), $("d-service")]) {
    for (const s of services) sel.append(new Option(s.title + " (" + (s.codes[0] || s.id) + ")", s.id));
  }
  const pick = () => {
    const s = svcById($("service").value);
    $("code").value = s && s.codes[0] ? s.codes[0] : "";
    fillLangs($("lang"), s);
  };
  $("service").addEventListener("change", pick);
  pick();
  $("d-service").addEventListener("change", () => {
    $("d-service").dataset.chosen = "1";
    fillLangs($("d-lang"), svcById($("d-service").value));
  });
  fillLangs($("d-lang"), svcById($("d-service").value));

  $("dial-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act("POST", "dial", { code: $("code").value.trim(), lang: $("lang").value });
  });
  $("reply-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("input").value;
    $("input").value = "";
    act("POST", "reply", { input });
  });
  $("hangup").addEventListener("click", () => act("POST", "hangup", {}));
  $("new-number").addEventListener("click", () => act("POST", "number", {}));
  $("diagram-form").addEventListener("submit", (e) => { e.preventDefault(); drawDiagram(); });
  $("tab-sim").addEventListener("click", () => tab("sim"));
  $("tab-diagram").addEventListener("click", () => tab("diagram"));
  $("logout").addEventListener("click", async () => {
    await call("POST", "logout", {}).catch(() => {});
    location.href = "/studio/login";
  });
  act("GET", "phone");
}

init();
