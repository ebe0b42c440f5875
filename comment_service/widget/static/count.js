/* Majlis comment counts: fills every [data-majlis-count="thread-key"] element with "N comments",
   asking for up to 100 threads and 7,500 bytes of URL per request (the API's documented limits).
   <script src="https://comments.example/count.js" data-site="demo" async></script> */
(() => {
  'use strict';
  const STRINGS = /*@counts*/{};
  const script = document.currentScript;
  if (!script || !script.dataset.site) return;
  const cfg = script.dataset;
  const base = (cfg.api || script.src.replace(/\/(?:widget\/)?count(?:\.\w+)?\.js(?:[?#].*)?$/, '')).replace(/\/$/, '');
  const url = `${base}/api/v1/sites/${encodeURIComponent(cfg.site)}/counts`;
  const pick = (l) => ((l = (l || '').toLowerCase().split('-')[0]), STRINGS[l] ? l : '');

  function label(n, lang) {
    const S = STRINGS[lang];
    const form = S['count_' + new Intl.PluralRules(lang).select(n)] || S.count_other;
    return form.replace('{n}', new Intl.NumberFormat(lang).format(n));
  }

  // Mirrors schemas/fields.py (COUNTS_MAX, THREAD_KEY_MAX) and the counts operation's document.
  const MAX_KEYS = 100;
  const MAX_URL = 7500; // bytes of path and query: fits a proxy's or gunicorn's 8 KB request line
  const KEY_MAX = 255;
  const param = (k) => {
    try { return 'thread=' + encodeURIComponent(k); } catch (e) { return null; } // a lone surrogate
  };

  // Split the keys so that each request's path and query stay within MAX_URL bytes and MAX_KEYS
  // keys: 100 Arabic slugs of 40 letters are 24 KB percent-encoded (each letter 6 bytes). A key
  // the server would refuse (blank, over 255 characters) is left out so its batch still counts.
  function batches(keys) {
    const start = new URL(url, location.href).pathname.length + 1; // "?"
    const out = [];
    let batch = [];
    let size = start;
    for (const k of keys) {
      const text = k.normalize('NFC').trim();
      const part = text && [...text].length <= KEY_MAX ? param(k) : null;
      if (!part) continue;
      if (batch.length && (batch.length === MAX_KEYS || size + 1 + part.length > MAX_URL)) {
        out.push(batch);
        batch = [];
        size = start;
      }
      size += (batch.length ? 1 : 0) + part.length;
      batch.push(part);
    }
    if (batch.length) out.push(batch);
    return out;
  }

  function run() {
    const els = [...document.querySelectorAll('[data-majlis-count]')];
    const keys = [...new Set(els.map((el) => el.getAttribute('data-majlis-count')).filter(Boolean))];
    for (const batch of batches(keys)) {
      fetch(`${url}?${batch.join('&')}`, { credentials: 'omit', headers: { Accept: 'application/json' } })
        .then((res) => (res.ok ? res.json() : Promise.reject(res.status)))
        .then(({ counts }) => {
          for (const el of els) {
            const n = counts[el.getAttribute('data-majlis-count')];
            if (typeof n !== 'number') continue;
            // The script's data-lang wins, else the language the badge sits in (the page's).
            const scope = el.closest('[lang]');
            const lang = pick(cfg.lang) || pick(scope && scope.lang) || 'en';
            el.textContent = label(n, lang);
            el.setAttribute('data-majlis-count-value', n);
          }
        })
        .catch(() => { /* the badges keep their fallback text */ });
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run);
  else run();
})();
