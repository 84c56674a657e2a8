/**
 * The page `GET /` serves to try the model: a question, a context, an Ask button; the answer (data-testid="answer")
 * with its score and latency, highlighted in the context. One self-contained document (inline style and script, no
 * external asset: works offline), allowed by its Content-Security-Policy through the hashes of exactly those two.
 * Keyboard: Enter in the question or Ctrl/⌘+Enter in the context asks; every control has a label and a visible
 * focus ring; results are announced (aria-live). With an API key set, the page has a key field and sends it as
 * `Authorization: Bearer` (the page never holds the key itself).
 */
import { createHash } from 'node:crypto';

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;background:#fff}
label{display:block;font-weight:600;margin-top:1rem}
input,textarea{width:100%;box-sizing:border-box;font:inherit;padding:.4rem;border:1px solid #767676;border-radius:4px}
textarea{min-height:10rem}
button{margin-top:1rem;font:inherit;padding:.4rem 1.2rem;border-radius:4px;border:1px solid #0b5394;background:#0b5394;color:#fff;cursor:pointer}
button[disabled]{opacity:.6}
:focus-visible{outline:3px solid #e8a317;outline-offset:2px}
#result{margin-top:1.5rem}
#answer{font-size:1.25rem;font-weight:600}
#context-view{white-space:pre-wrap;border-left:4px solid #ddd;padding-left:.75rem;margin-top:.75rem}
mark{background:#ffe066;color:inherit;padding:0 .1rem}
.error{color:#a4000f}
.hint{color:#555;font-size:.9rem}
`;

const SCRIPT = `
const form = document.getElementById('ask');
const button = form.querySelector('button');
const answerEl = document.getElementById('answer');
const metaEl = document.getElementById('meta');
const viewEl = document.getElementById('context-view');
const errorEl = document.getElementById('error');
form.context.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
});
function show(context, a) {
  // offsets are code points (Python indexing): slice an array of code points, not UTF-16 units
  const chars = Array.from(context);
  viewEl.replaceChildren();
  if (a.end > a.start) {
    const mark = document.createElement('mark');
    mark.textContent = chars.slice(a.start, a.end).join('');
    viewEl.append(chars.slice(0, a.start).join(''), mark, chars.slice(a.end).join(''));
  } else {
    viewEl.append(context);
  }
}
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const question = form.question.value, context = form.context.value;
  const headers = { 'Content-Type': 'application/json' };
  if (form.key && form.key.value) headers.Authorization = 'Bearer ' + form.key.value;
  button.disabled = true; errorEl.textContent = ''; answerEl.textContent = '…'; metaEl.textContent = '';
  const t0 = performance.now();
  try {
    const r = await fetch('/', { method: 'POST', headers, body: JSON.stringify({ inputs: { question, context } }) });
    const body = await r.json();
    const ms = performance.now() - t0;
    if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
    const a = Array.isArray(body) ? body[0] : body;
    if (!a) { answerEl.textContent = '(no answer found)'; viewEl.textContent = context; return; }
    answerEl.textContent = a.answer === '' ? '(no answer)' : a.answer;
    metaEl.textContent = 'score ' + a.score.toFixed(4) + ' · ' + Math.round(ms) + ' ms';
    show(context, a);
  } catch (err) {
    answerEl.textContent = '';
    errorEl.textContent = String(err.message || err);
  } finally {
    button.disabled = false;
  }
});
`;

const hash = (s: string): string => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;

/** The page's Content-Security-Policy: only its own inline style and script, and fetches to this origin. */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src ${hash(STYLE)}`,
  `script-src ${hash(SCRIPT)}`,
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page's HTML; `modelName` is shown in the heading (escaped). */
export function renderPage(options: { modelName: string; keyRequired: boolean }): string {
  const key = options.keyRequired
    ? `<label for="key">API key</label><input id="key" name="key" type="password" autocomplete="off" required>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>qa-ft · ${escapeHtml(options.modelName)}</title><style>${STYLE}</style></head>
<body><main>
<h1>Ask <small>${escapeHtml(options.modelName)}</small></h1>
<form id="ask">
${key}
<label for="question">Question</label><input id="question" name="question" required autocomplete="off">
<label for="context">Context</label><textarea id="context" name="context" required aria-describedby="context-hint"></textarea>
<p id="context-hint" class="hint">Enter in the question, or Ctrl+Enter in the context, asks.</p>
<button type="submit">Ask</button>
</form>
<section id="result" aria-live="polite">
<p>Answer: <output id="answer" data-testid="answer" for="question context"></output></p>
<p id="meta" data-testid="meta"></p>
<p id="error" class="error" role="alert"></p>
<div id="context-view" data-testid="context-view"></div>
</section>
</main><script>${SCRIPT}</script></body></html>
`;
}
