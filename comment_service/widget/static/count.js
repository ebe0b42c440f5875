/* Majlis comment counts: fills every [data-majlis-count="thread-key"] element with "N comments",
   in one request per 100 threads. <script src="https://comments.example/count.js" data-site="demo" async></script> */
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

  function run() {
    const els = [...document.querySelectorAll('[data-majlis-count]')];
    const keys = [...new Set(els.map((el) => el.getAttribute('data-majlis-count')).filter(Boolean))];
    for (let i = 0; i < keys.length; i += 100) {
      const batch = keys.slice(i, i + 100);
      fetch(`${url}?${batch.map((k) => 'thread=' + encodeURIComponent(k)).join('&')}`, { credentials: 'omit', headers: { Accept: 'application/json' } })
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
