// Majlis dashboard: keyboard moderation, decisions without reloading, bulk actions, claim release.
// Plain JavaScript, loaded from this origin only (the CSP allows nothing inline). Every page works
// without it: the forms post and redirect. With it, decisions go through fetch() with the CSRF
// token in the X-CSRFToken header, and a refused (stale) decision shows its message in place.
(function () {
  "use strict";

  const csrf = document.body.dataset.csrf;
  const lang = document.body.dataset.lang || "en";
  const page = document.querySelector(".queue-page");
  const helpDialog = document.getElementById("help");
  const rejectDialog = document.getElementById("reject-dialog");
  const helpButton = document.querySelector(".help-button");
  if (helpButton && helpDialog) helpButton.addEventListener("click", () => helpDialog.showModal());
  if (!page) return;

  const plural = new Intl.PluralRules(lang);
  const texts = JSON.parse(page.dataset.texts || "{}");
  const bulkForm = document.getElementById("bulk");
  const selectedCount = bulkForm ? bulkForm.querySelector(".selected-count") : null;
  let current = null;

  function format(forms, n) {
    const text = forms[plural.select(n)] || forms.other || "";
    return text.replace("{n}", String(n));
  }

  function items() {
    return Array.from(page.querySelectorAll(".item:not(.decided)"));
  }

  function selected() {
    return items().filter((el) => el.querySelector(".select:checked"));
  }

  function setCurrent(el, focus) {
    if (current) current.classList.remove("current");
    current = el || null;
    if (!current) return;
    current.classList.add("current");
    if (focus !== false) {
      current.focus({ preventScroll: true });
      current.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    const list = items();
    if (!list.length) return;
    const at = list.indexOf(current);
    const next = at < 0 ? 0 : Math.min(list.length - 1, Math.max(0, at + step));
    setCurrent(list[next]);
  }

  function updateSelection() {
    const n = selected().length;
    page.querySelectorAll(".item").forEach((el) => {
      const box = el.querySelector(".select");
      el.classList.toggle("selected", Boolean(box && box.checked));
    });
    if (selectedCount && texts.selected) selectedCount.textContent = format(texts.selected, n);
  }

  function say(el, message, refused) {
    const box = el.querySelector(".item-message");
    el.classList.toggle("refused", Boolean(refused));
    box.textContent = message;
    if (refused) {
      const reload = document.createElement("a");
      reload.href = window.location.href;
      reload.textContent = " " + (texts.reload || "Reload");
      box.appendChild(reload);
      box.setAttribute("role", "alert");
    }
  }

  function decided(el, message) {
    const wasCurrent = el === current;
    const list = items();
    const at = list.indexOf(el);
    el.classList.add("decided");
    el.classList.remove("selected", "current");
    const box = el.querySelector(".select");
    if (box) { box.checked = false; box.disabled = true; }
    el.querySelectorAll(".actions button, .actions select").forEach((b) => { b.disabled = true; });
    say(el, message, false);
    const tab = document.querySelector(`.count[data-count="${page.dataset.queue}"]`);
    if (tab && /^\d+$/.test(tab.textContent.trim())) tab.textContent = String(Math.max(0, Number(tab.textContent) - 1));
    if (wasCurrent) {
      const rest = items();
      setCurrent(rest[Math.min(at, rest.length - 1)] || null);
    }
    updateSelection();
  }

  // The server answers JSON: a refusal (4xx, 5xx) as {"error": {"code", "message", "fields"?}}, a
  // decision done as {"id", "status", "revision", "message"}, a bulk action as {"results", "message"}.
  async function post(url, fields) {
    const body = new URLSearchParams();
    fields.forEach(([k, v]) => body.append(k, v));
    const response = await fetch(url, {
      method: "POST",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
      body,
      credentials: "same-origin",
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!data) throw new Error("no answer");
    return { done: response.ok && !data.error, data };
  }

  function refusal(data) {
    return (data.error && data.error.message) || texts.network || "";
  }

  function allowed(el, action) {
    return Boolean(el.querySelector(`.actions button[value="${action}"]`));
  }

  async function decideOne(el, action, reason, url) {
    const form = el.querySelector(".actions");
    const fields = [["action", action], ["revision", el.dataset.revision]];
    if (reason) fields.push(["reason", reason]);
    try {
      // getAttribute: form.action would be the buttons named "action".
      const { done, data } = await post(url || form.getAttribute("action"), fields);
      if (done) decided(el, data.message);
      else say(el, refusal(data), true);
    } catch (e) {
      say(el, texts.network || "Network error", true);
    }
  }

  async function decideMany(els, action, reason) {
    const fields = [["action", action]];
    if (reason) fields.push(["reason", reason]);
    els.forEach((el) => fields.push(["item", `${el.dataset.id}:${el.dataset.revision}`]));
    try {
      const { done, data } = await post(page.dataset.bulk, fields);
      if (!done) {
        if (current) say(current, refusal(data), true);
        return;
      }
      data.results.forEach((r) => {
        const el = document.getElementById(`c-${r.id}`);
        if (!el) return;
        if (r.ok) decided(el, texts["done_" + action] || data.message);
        else say(el, refusal(r), true);
      });
    } catch (e) {
      if (current) say(current, texts.network || "Network error", true);
    }
  }

  function askReason() {
    return new Promise((resolve) => {
      if (!rejectDialog) { resolve(null); return; }
      rejectDialog.returnValue = "";
      const done = () => {
        rejectDialog.removeEventListener("close", done);
        resolve(rejectDialog.returnValue || null);
      };
      rejectDialog.addEventListener("close", done);
      rejectDialog.showModal();
    });
  }

  async function act(action) {
    const many = selected();
    const targets = many.length ? many : (current ? [current] : []);
    if (!targets.length) return;
    if (!many.length && !allowed(current, action)) return;
    let reason = null;
    if (action === "reject") {
      reason = await askReason();
      if (!reason) return;
    }
    if (many.length) await decideMany(many, action, reason);
    else await decideOne(current, action, reason);
  }

  if (rejectDialog) {
    rejectDialog.addEventListener("keydown", (event) => {
      if (/^[1-9]$/.test(event.key)) {
        const button = rejectDialog.querySelectorAll(".reason-choices button")[Number(event.key) - 1];
        if (button) { event.preventDefault(); rejectDialog.close(button.value); }
      }
    });
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return;
    const target = event.target;
    const tag = (target.tagName || "").toLowerCase();
    // Typing in a field is typing, not a shortcut (a focused check box or button still takes them).
    if (tag === "select" || tag === "textarea" || (tag === "input" && target.type !== "checkbox")) return;
    const key = event.key;
    const handlers = {
      j: () => move(1), k: () => move(-1),
      a: () => act("approve"), r: () => act("reject"), s: () => act("spam"), n: () => act("not_spam"),
      x: () => {
        if (!current) return;
        const box = current.querySelector(".select");
        if (box && !box.disabled) { box.checked = !box.checked; updateSelection(); }
      },
      h: () => { const link = current && current.querySelector(".history-link"); if (link) window.location.href = link.href; },
      b: () => { const link = current && current.querySelector(".act-ban"); if (link) window.location.href = link.href; },
      "?": () => { if (helpDialog) helpDialog.showModal(); },
    };
    if (handlers[key]) {
      event.preventDefault();
      handlers[key]();
    }
  });

  page.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.classList.contains("actions")) return;
    const el = form.closest(".item");
    const button = event.submitter;
    if (!el || !button) return;
    event.preventDefault();
    setCurrent(el, false);
    const action = button.value;
    if (button.classList.contains("act-dismiss")) {
      decideOne(el, action, null, button.getAttribute("formaction"));
      return;
    }
    if (action === "reject") {
      const chosen = form.querySelector("select[name=reason]").value;
      if (chosen) decideOne(el, "reject", chosen);
      else askReason().then((reason) => { if (reason) decideOne(el, "reject", reason); });
      return;
    }
    decideOne(el, action, null);
  });

  page.addEventListener("click", (event) => {
    const el = event.target.closest(".item");
    if (el && !el.classList.contains("decided") && !event.target.closest("a, button, select")) setCurrent(el, false);
  });
  page.addEventListener("change", (event) => {
    if (event.target.classList.contains("select")) updateSelection();
  });

  if (bulkForm) {
    bulkForm.addEventListener("submit", (event) => {
      const many = selected();
      event.preventDefault();
      const action = bulkForm.querySelector("[name=action]").value;
      const reason = bulkForm.querySelector("[name=reason]").value;
      if (!many.length) { bulkForm.querySelector(".selected-count").textContent = texts.nothing || ""; return; }
      if (action === "reject" && !reason) {
        askReason().then((chosen) => { if (chosen) decideMany(many, "reject", chosen); });
        return;
      }
      decideMany(many, action, reason || null);
    });
  }

  // Leaving the page gives its undecided items back to the queue, unless a newer page (a reload)
  // has claimed them again since: the server only releases leases that end by `leased_until`.
  window.addEventListener("pagehide", () => {
    const left = items().map((el) => el.dataset.id);
    if (!left.length || !page.dataset.leasedUntil || !navigator.sendBeacon) return;
    const data = new FormData();
    data.append("csrf_token", csrf);
    data.append("leased_until", page.dataset.leasedUntil);
    left.forEach((id) => data.append("id", id));
    navigator.sendBeacon(page.dataset.release, data);
  });

  updateSelection();
  setCurrent(items()[0] || null, false);
})();
