/* Majlis comments: <div id="majlis-thread"></div>
   <script src="https://comments.example/embed.js" data-site="demo" data-thread="article-42" async></script>
   Plain JavaScript, no framework, no request to anyone but the service this file came from.
   Styles live in a shadow root (a constructed stylesheet: no inline style for a CSP to block).
   The only HTML inserted is the server-sanitised body, parsed into an inert template and
   filtered again against the same allowlist. */
(() => {
  'use strict';
  const STRINGS = /*@strings*/{};
  const CSS = /*@css*/'';
  const script = document.currentScript;
  if (!script || !script.dataset.site) return;
  const cfg = script.dataset;
  const base = (cfg.api || script.src.replace(/\/(?:widget\/)?embed(?:\.\w+)?\.js(?:[?#].*)?$/, '')).replace(/\/$/, '');
  const site = cfg.site;
  const thread = cfg.thread || location.pathname;
  const api = `${base}/api/v1/sites/${encodeURIComponent(site)}/comments`;

  const html = document.documentElement;
  const pick = (l) => ((l = (l || '').toLowerCase().split('-')[0]), STRINGS[l] ? l : '');
  const lang = pick(cfg.lang) || pick(html.lang) || 'en';
  const pageDir = (html.getAttribute('dir') || (document.body && document.body.getAttribute('dir')) || '').toLowerCase();
  const dir = cfg.dir || (lang === pick(html.lang) && pageDir) || (lang === 'ar' ? 'rtl' : 'ltr');
  const S = STRINGS[lang];
  const nf = new Intl.NumberFormat(lang);
  const plural = new Intl.PluralRules(lang);
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
  const dtf = new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeStyle: 'short' });
  const t = (key, vars = {}) => (S[key] || STRINGS.en[key] || '').replace(/\{(\w+)\}/g, (_, k) => vars[k]);
  const countLabel = (n) => t(S['count_' + plural.select(n)] ? 'count_' + plural.select(n) : 'count_other', { n: nf.format(n) });

  // Mirrors the server's checks (schemas/fields.py); the server stays the judge.
  const MAX = { body: 5000, author_name: 100, author_email: 320, author_url: 500, note: 500 };
  const BIDI = /[\u202a-\u202e\u2066-\u2069]/;
  const EMAIL = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/;
  const len = (s) => [...s.normalize('NFC')].length;
  const webUrl = (v) => {
    if (/\s/.test(v)) return false;
    try { const u = new URL(v); return (u.protocol === 'http:' || u.protocol === 'https:') && !!u.hostname; } catch (e) { return false; }
  };
  const REASONS = ['spam', 'abuse', 'off_topic', 'other'];

  // --- small helpers -------------------------------------------------------------------------
  const h = (tag, attrs, ...kids) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (typeof v === 'function') el.addEventListener(k, v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    el.append(...kids.flat(9).filter((k) => k != null && k !== false));
    return el;
  };
  const button = (label, onclick, attrs) => h('button', { type: 'button', class: 'link', click: onclick, ...attrs }, label);
  const store = {
    get(k) { try { return JSON.parse(localStorage.getItem(k)); } catch (e) { return null; } },
    set(k, v) { try { v == null ? localStorage.removeItem(k) : localStorage.setItem(k, JSON.stringify(v)); } catch (e) { /* storage off */ } },
  };
  const OWN = `majlis:own:${base}:${site}:${thread}`;
  // Thread pages are cached for a few seconds; a reader who just changed the thread revalidates.
  const WROTE = `majlis:wrote:${base}:${site}:${thread}`;
  const wrote = () => store.set(WROTE, Date.now());
  const AUTHOR = `majlis:author:${base}`;

  async function call(url, { method = 'GET', body, token, cache, key } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers['X-Edit-Token'] = token;
    if (key) headers['Idempotency-Key'] = key;
    let res;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache });
    } catch (e) {
      throw { code: 'network' };
    }
    let data = {};
    if (res.status !== 204) { try { data = await res.json(); } catch (e) { /* not JSON */ } }
    if (!res.ok) throw { status: res.status, ...(data.error || { code: 'unknown' }) };
    return data;
  }
  // A stable code in the widget's language; the server's own words for a code it does not know
  // (or a length limit of a field it has no number for).
  const errorText = (e, field) =>
    S['e_' + e.code] && (e.code !== 'too_long' || MAX[field]) ? t('e_' + e.code, { max: nf.format(MAX[field]) }) : e.message || t('e_unknown');

  // Trusted Types: a page that requires them lets this one policy feed an inert <template>.
  let policy = null;
  try { if (window.trustedTypes) policy = trustedTypes.createPolicy('majlis', { createHTML: (s) => s }); } catch (e) { /* exists */ }
  const ALLOWED = /^(A|B|STRONG|I|EM|CODE|PRE|BLOCKQUOTE|P|BR|UL|OL|LI)$/;
  // An inert template: nothing in it runs or loads. (Chrome still reports to the page's CSP any
  // inline handler it parses, so a body the server should never send shows up in CSP reports.)
  function safeHtml(markup) {
    const tpl = document.createElement('template');
    tpl.innerHTML = policy ? policy.createHTML(markup) : markup;
    const clean = (node) => {
      for (const el of [...node.children]) {
        if (!ALLOWED.test(el.tagName)) { el.replaceWith(el.textContent); continue; }
        const href = el.getAttribute('href');
        for (const a of [...el.attributes]) el.removeAttribute(a.name);
        if (el.tagName === 'A') {
          if (href && /^(https?|mailto):/i.test(href)) el.setAttribute('href', href);
          el.setAttribute('rel', 'nofollow ugc noopener');
        }
        clean(el);
      }
    };
    clean(tpl.content);
    return tpl.content;
  }
  const textOf = (markup) => {
    const frag = safeHtml(markup.replace(/<br\s*\/?>/gi, '\n').replace(/<\/p>\s*<p>/gi, '\n\n'));
    return frag.textContent.trim();
  };

  function ago(iso) {
    const s = Math.min(0, (Date.parse(iso) - Date.now()) / 1000);
    for (const [unit, n] of [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]]) {
      if (-s >= n) return rtf.format(Math.round(s / n), unit);
    }
    return rtf.format(0, 'second');
  }

  // An identicon from the opaque per-site seed: drawn here, nothing fetched.
  function avatar(seed) {
    const s = ((seed || '') + '0000000000000000').slice(0, 16);
    const hue = parseInt(s.slice(0, 3), 16) % 360 || 0;
    const bits = parseInt(s.slice(3, 7), 16) || 0;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    const rect = (x, y, w, fill) => {
      const r = document.createElementNS(svg.namespaceURI, 'rect');
      for (const [k, v] of Object.entries({ x, y, width: w, height: w, fill })) r.setAttribute(k, v);
      svg.append(r);
    };
    for (const [k, v] of Object.entries({ viewBox: '-1 -1 7 7', class: 'av', 'aria-hidden': 'true', focusable: 'false' })) svg.setAttribute(k, v);
    rect(-1, -1, 7, `hsl(${hue},45%,92%)`);
    for (let i = 0; i < 15; i++) {
      if (!((bits >> i) & 1)) continue;
      const x = i % 3, y = Math.floor(i / 3);
      rect(x, y, 1, `hsl(${hue},55%,42%)`);
      if (x < 2) rect(4 - x, y, 1, `hsl(${hue},55%,42%)`);
    }
    return svg;
  }

  // --- state ---------------------------------------------------------------------------------
  const byId = new Map(); // comment id -> public comment (+ .own {token, until, body}, .reported)
  let total = 0;
  let cursor = null;
  let closed = false;
  let replyTo = null;
  let busy = false;
  // One Idempotency-Key per submission, kept until it is answered with success: sending the same
  // text again after a lost answer or an error cannot store it twice.
  let attempt = null;
  const newKey = () => crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

  // --- the shadow root -----------------------------------------------------------------------
  let root, shadow, list, heading, more, status, formBox, form, formTitle, replying, replyCancel, formError, submit, saveBox;
  const inputs = {};
  const errors = {};

  function mount(host) {
    shadow = host.shadowRoot || host.attachShadow({ mode: 'open' });
    if ('adoptedStyleSheets' in shadow && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } else {
      shadow.append(h('style', null, CSS)); // old browsers; a strict CSP needs style-src for this
    }
    heading = h('h2', { id: 'mj-title' }, t('title'));
    status = h('div', { class: 'sr', role: 'status', 'aria-live': 'polite' });
    list = h('ol', { class: 'list', 'aria-labelledby': 'mj-title' });
    more = h('button', { type: 'button', class: 'more', hidden: true, click: loadMore }, t('more'));
    buildForm();
    root = h('section', { class: 'mj', lang, dir, 'aria-labelledby': 'mj-title' }, heading, h('p', { class: 'hint', id: 'mj-hint' }, t('loading')), list, more, formBox, status);
    shadow.replaceChildren(root);
  }

  function field(name, label, control, required, hint) {
    const err = h('p', { class: 'err', id: `mj-${name}-err`, hidden: true });
    control.id = `mj-${name}`;
    control.name = name;
    control.setAttribute('aria-describedby', [hint, err.id].filter(Boolean).join(' '));
    if (required) { control.required = true; control.setAttribute('aria-required', 'true'); }
    inputs[name] = control;
    errors[name] = err;
    return h('div', { class: 'field' },
      h('label', { for: control.id }, label, required && h('span', { class: 'req', 'aria-hidden': 'true' }, ' *')),
      control, err);
  }

  function buildForm() {
    const saved = store.get(AUTHOR);
    formTitle = h('h3', { id: 'mj-form-title' }, t('form_title'));
    replyCancel = button(t('cancel_reply'), () => { const id = replyTo && replyTo.id; replyTo = null; placeForm(); focusIn(id, '.reply'); });
    replying = h('p', { class: 'replying', hidden: true }, replyCancel);
    formError = h('p', { class: 'err form-err', role: 'alert', hidden: true });
    submit = h('button', { type: 'submit', class: 'primary' }, t('submit'));
    saveBox = h('input', { type: 'checkbox', id: 'mj-save', checked: !!saved });
    form = h('form', { novalidate: true, 'aria-labelledby': 'mj-form-title', submit: onSubmit },
      formTitle, replying,
      h('p', { class: 'note', id: 'mj-note' }, t('note')),
      field('body', t('body'), h('textarea', { rows: 5, dir: 'auto' }), true, 'mj-note'),
      field('author_name', t('name'), h('input', { type: 'text', autocomplete: 'name', dir: 'auto' }), true),
      field('author_email', t('email'), h('input', { type: 'email', autocomplete: 'email', dir: 'ltr', spellcheck: 'false' }), true, 'mj-note'),
      field('author_url', t('url'), h('input', { type: 'url', autocomplete: 'url', dir: 'ltr', spellcheck: 'false' }), false),
      // Honeypot: out of sight and out of the accessibility tree; people never fill it.
      h('div', { class: 'sr', 'aria-hidden': 'true' },
        h('label', { for: 'mj-company' }, 'Company'),
        h('input', { type: 'text', id: 'mj-company', name: 'company', tabindex: '-1', autocomplete: 'off' })),
      h('div', { class: 'check' }, saveBox, h('label', { for: 'mj-save' }, t('save'))),
      formError, submit);
    if (saved) for (const k of ['author_name', 'author_email', 'author_url']) inputs[k].value = saved[k] || '';
    formBox = h('div', { class: 'respond' }, form);
  }

  const announce = (msg) => { status.textContent = ''; setTimeout(() => { status.textContent = msg; }, 50); };
  const focusIn = (id, sel) => { const el = id && shadow.getElementById('c' + id); const f = el && el.querySelector(sel); if (f) f.focus(); };

  // --- rendering -----------------------------------------------------------------------------
  const editable = (c) => c.own && (!c.own.until || c.own.until > Date.now());

  function render() {
    const kids = new Map();
    for (const c of [...byId.values()].sort((a, b) => a.id - b.id)) {
      const p = c.parent_id != null && byId.has(c.parent_id) ? c.parent_id : 0;
      if (!kids.has(p)) kids.set(p, []);
      kids.get(p).push(c);
    }
    const build = (p, depth) => (kids.get(p) || []).map((c) => commentEl(c, depth, build(c.id, depth + 1)));
    list.replaceChildren(...build(0, 0));
    heading.textContent = total > 0 ? countLabel(total) : t('title');
    const hint = shadow.getElementById('mj-hint');
    hint.textContent = closed ? t('closed') : byId.size ? '' : t('empty');
    hint.hidden = !hint.textContent;
    more.hidden = !cursor;
    formBox.hidden = closed;
    placeForm();
  }

  function commentEl(c, depth, replies) {
    const li = h('li', { class: 'c' + (c.status === 'pending' ? ' held' : ''), id: 'c' + c.id });
    if (!c.author || c.status === 'deleted') {
      li.append(h('div', { class: 'card gone' }, h('p', { class: 'tomb' }, t('deleted'))));
    } else {
      const a = c.author;
      const name = h('bdi', { class: 'name' }, a.name);
      const when = h('time', { datetime: c.created_at, title: dtf.format(new Date(c.created_at)) }, ago(c.created_at));
      const body = h('div', { class: 'body', dir: 'auto' }, safeHtml(c.body_html));
      const held = c.status === 'pending';
      li.append(h('article', { class: 'card', tabindex: '-1', 'aria-label': a.name },
        h('header', null,
          avatar(a.avatar),
          a.url && webUrl(a.url) ? h('a', { href: a.url, rel: 'nofollow ugc noopener' }, name) : name,
          when,
          held && h('span', { class: 'badge' }, t('pending'))),
        body,
        h('div', { class: 'actions' },
          !held && !closed && button(t('reply'), () => { replyTo = c; placeForm(); inputs.body.focus(); },
            { class: 'link reply', 'aria-label': t('reply_to', { name: a.name }) }),
          editable(c) && button(t('edit'), () => startEdit(c, li), { class: 'link edit' }),
          editable(c) && button(t('delete'), () => confirmDelete(c, li), { class: 'link delete' }),
          !held && !c.own && button(c.reported ? t('reported') : t('report'), () => openReport(c, li),
            { class: 'link report', disabled: !!c.reported, 'aria-expanded': 'false' }))));
    }
    if (replies.length) li.append(h('ol', { class: depth < 3 ? 'replies' : 'replies flat' }, replies));
    return li;
  }

  function placeForm() {
    const li = replyTo && shadow.getElementById('c' + replyTo.id);
    if (!li) replyTo = null;
    if (li) li.querySelector('.card').after(formBox);
    else if (formBox.parentNode !== root || formBox.previousSibling !== more) more.after(formBox);
    formTitle.textContent = replyTo ? t('reply_title', { name: replyTo.author.name }) : t('form_title');
    replying.hidden = !replyTo;
  }

  // --- loading -------------------------------------------------------------------------------
  async function loadPage() {
    const q = `?thread=${encodeURIComponent(thread)}&limit=200${cursor ? '&cursor=' + cursor : ''}`;
    const page = await call(api + q, { cache: Date.now() - (store.get(WROTE) || 0) < 120000 ? 'no-cache' : 'default' });
    total = page.thread.comment_count;
    closed = page.thread.closed;
    for (const c of page.comments) if (!(byId.get(c.id) || {}).own) byId.set(c.id, c);
    cursor = page.next_cursor;
  }

  async function loadMore() {
    more.disabled = true;
    try { await loadPage(); render(); } catch (e) { announce(t('load_failed')); }
    more.disabled = false;
  }

  // The author's own comments (pending ones too), from the edit tokens this browser kept.
  async function loadOwn() {
    const mine = store.get(OWN) || [];
    if (!mine.length) return;
    let found;
    try {
      found = (await call(api + '/own', { method: 'POST', body: { comments: mine.map(({ id, edit_token }) => ({ id, edit_token })) } })).comments;
    } catch (e) {
      return; // keep them: the service may be down, not the comments gone
    }
    const keep = [];
    for (const { comment: c, editable_until } of found) {
      const m = mine.find((x) => x.id === c.id);
      const until = editable_until ? Date.parse(editable_until) : 0;
      if (!m || c.thread !== thread || (c.status !== 'pending' && until <= Date.now())) continue;
      keep.push(m);
      c.own = { token: m.edit_token, until, body: m.body };
      byId.set(c.id, c);
    }
    store.set(OWN, keep.length ? keep : null);
  }

  function remember(c, token, body) {
    wrote();
    const mine = (store.get(OWN) || []).filter((x) => x.id !== c.id);
    if (token) mine.push({ id: c.id, edit_token: token, body });
    store.set(OWN, mine.length ? mine.slice(-50) : null);
  }

  // --- the form ------------------------------------------------------------------------------
  function values() {
    const v = {};
    for (const k in inputs) v[k] = inputs[k].value.trim();
    return v;
  }

  function check(v) {
    const e = {};
    const need = (k, ok, code) => { if (!e[k] && !ok) e[k] = { code }; };
    for (const k of ['body', 'author_name', 'author_email']) need(k, v[k], 'required');
    for (const k in MAX) if (v[k]) need(k, len(v[k]) <= MAX[k], 'too_long');
    if (v.author_email) need('author_email', EMAIL.test(v.author_email), 'invalid_email');
    if (v.author_url) need('author_url', webUrl(v.author_url), 'invalid_url');
    for (const k of ['author_name', 'author_url']) need(k, !BIDI.test(v[k]), 'bidi_control');
    return e;
  }

  function showErrors(fieldErrors, general) {
    let first = null;
    for (const k in inputs) {
      const e = fieldErrors[k];
      errors[k].textContent = e ? errorText(e, k) : '';
      errors[k].hidden = !e;
      if (e) { inputs[k].setAttribute('aria-invalid', 'true'); first = first || inputs[k]; } else inputs[k].removeAttribute('aria-invalid');
    }
    formError.textContent = general || '';
    formError.hidden = !general;
    if (first) { first.focus(); announce(t('fix_fields')); }
  }

  function serverErrors(err) {
    const fe = {};
    const rest = [];
    for (const [k, errs] of Object.entries(err.fields || {})) {
      if (inputs[k]) fe[k] = errs[0];
      else rest.push(errorText(errs[0], k));
    }
    if (!err.fields) rest.push(errorText(err));
    showErrors(fe, rest.join(' '));
  }

  async function onSubmit(ev) {
    ev.preventDefault();
    if (busy) return;
    const v = values();
    const problems = check(v);
    if (Object.keys(problems).length) return showErrors(problems);
    showErrors({});
    const where = location.href.split('#')[0];
    const payload = {
      thread,
      thread_title: (cfg.title || document.title || '').trim().slice(0, 300) || null,
      thread_url: cfg.url || (webUrl(where) && where.length <= 2000 ? where : null),
      parent_id: replyTo ? replyTo.id : null,
      author_name: v.author_name,
      author_email: v.author_email,
      author_url: v.author_url || null,
      body: v.body,
      company: shadow.getElementById('mj-company').value,
    };
    busy = true;
    submit.disabled = true;
    submit.textContent = t('sending');
    const sent = JSON.stringify(payload);
    if (!attempt || attempt.sent !== sent) attempt = { sent, key: newKey() };
    try {
      const res = await call(api, { method: 'POST', body: payload, key: attempt.key });
      attempt = null;
      const c = res.comment;
      const until = res.editable_until ? Date.parse(res.editable_until) : Date.parse(c.created_at) + 15 * 60000;
      c.own = { token: res.edit_token, until, body: v.body };
      byId.set(c.id, c);
      remember(c, res.edit_token, v.body);
      if (c.status !== 'pending') total += 1;
      store.set(AUTHOR, saveBox.checked ? { author_name: v.author_name, author_email: v.author_email, author_url: v.author_url } : null);
      inputs.body.value = '';
      replyTo = null;
      render();
      focusIn(c.id, 'article');
      announce(c.status === 'pending' ? t('held') : t('posted'));
    } catch (err) {
      serverErrors(err);
    } finally {
      busy = false;
      submit.disabled = false;
      submit.textContent = t('submit');
    }
  }

  // --- the author's edit and delete ----------------------------------------------------------
  function startEdit(c, li) {
    const body = li.querySelector('.body');
    if (!body) return;
    const area = h('textarea', { rows: 4, dir: 'auto', 'aria-label': t('edit_label'), 'aria-describedby': `mj-e${c.id}` });
    area.value = c.own.body || textOf(c.body_html);
    const err = h('p', { class: 'err', id: `mj-e${c.id}`, hidden: true });
    const fail = (e) => { err.textContent = errorText(e, 'body'); err.hidden = false; area.setAttribute('aria-invalid', 'true'); area.focus(); };
    const box = h('form', { class: 'panel', novalidate: true, submit: async (ev) => {
      ev.preventDefault();
      const text = area.value.trim();
      if (!text || len(text) > MAX.body) return fail({ code: text ? 'too_long' : 'required' });
      try {
        const res = await call(`${api}/${c.id}`, { method: 'PATCH', token: c.own.token, body: { body: text } });
        const updated = res.comment || res;
        updated.own = { ...c.own, body: text };
        if ((updated.status === 'pending') !== (c.status === 'pending')) total += updated.status === 'pending' ? -1 : 1;
        byId.set(c.id, updated);
        remember(updated, c.own.token, text);
        render();
        focusIn(c.id, '.edit');
        announce(updated.status === 'pending' ? t('edited_held') : t('edited'));
      } catch (e) { fail(e.fields && e.fields.body ? e.fields.body[0] : e); }
    } }, area, err, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('save_edit')), button(t('cancel'), () => { render(); focusIn(c.id, '.edit'); })));
    body.replaceWith(box);
    area.focus();
  }

  function confirmDelete(c, li) {
    if (li.querySelector('.panel')) return;
    const err = h('p', { class: 'err', role: 'alert', hidden: true });
    const box = h('div', { class: 'panel', role: 'group', 'aria-labelledby': `mj-d${c.id}` },
      h('p', { id: `mj-d${c.id}` }, t('delete_confirm')), err,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', click: async () => {
          try {
            await call(`${api}/${c.id}`, { method: 'DELETE', token: c.own.token });
          } catch (e) {
            if (e.code !== 'comment_not_found') { err.textContent = errorText(e); err.hidden = false; return; }
          }
          remember(c, null);
          if (c.status !== 'pending') total -= 1;
          const hasReplies = [...byId.values()].some((x) => x.parent_id === c.id);
          if (hasReplies) byId.set(c.id, { id: c.id, parent_id: c.parent_id, author: null, status: 'deleted', created_at: c.created_at });
          else byId.delete(c.id);
          render();
          announce(t('deleted_ok'));
        } }, t('delete')),
        button(t('cancel'), () => { box.remove(); focusIn(c.id, '.delete'); })));
    li.querySelector('.card').append(box);
    box.querySelector('button').focus();
  }

  // --- reports -------------------------------------------------------------------------------
  function openReport(c, li) {
    const card = li.querySelector('.card');
    const opener = card.querySelector('.report');
    if (card.querySelector('.panel')) return;
    const note = h('textarea', { rows: 2, dir: 'auto', id: `mj-n${c.id}` });
    const err = h('p', { class: 'err', role: 'alert', hidden: true });
    const close = () => { box.remove(); opener.setAttribute('aria-expanded', 'false'); opener.focus(); };
    const box = h('form', { class: 'panel', novalidate: true, submit: async (ev) => {
      ev.preventDefault();
      const reason = box.querySelector('input:checked').value;
      try {
        await call(`${api}/${c.id}/reports`, { method: 'POST', body: { reason, note: note.value.trim().slice(0, MAX.note) || null } });
      } catch (e) {
        err.textContent = errorText((e.fields && Object.values(e.fields)[0][0]) || e, 'note');
        err.hidden = false;
        return;
      }
      c.reported = true;
      render();
      focusIn(c.id, '.report');
      announce(t('report_thanks'));
    } },
      h('fieldset', null, h('legend', null, t('report_title')),
        REASONS.map((r, i) => h('label', { class: 'opt' }, h('input', { type: 'radio', name: `mj-r${c.id}`, value: r, checked: i === 0 }), t('reason_' + r)))),
      h('label', { for: note.id }, t('report_note')), note, err,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('report_send')), button(t('cancel'), close)));
    card.append(box);
    opener.setAttribute('aria-expanded', 'true');
    box.querySelector('input').focus();
  }

  // --- start ---------------------------------------------------------------------------------
  async function start() {
    const host = document.querySelector(cfg.target || '#majlis-thread');
    if (!host) return;
    mount(host);
    try {
      await Promise.all([loadPage(), loadOwn()]);
    } catch (e) {
      shadow.getElementById('mj-hint').textContent = t('load_failed');
      root.setAttribute('data-state', 'failed');
      return;
    }
    render();
    root.setAttribute('data-state', 'ready');
    setInterval(() => {
      for (const el of list.querySelectorAll('time')) el.textContent = ago(el.getAttribute('datetime'));
    }, 60000);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
