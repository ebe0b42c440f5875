#!/usr/bin/env bash
# A moderation session with curl, against a running `make run` (http://127.0.0.1:${PORT:-5000}).
# Creates a site, sets word lists, posts comments that are published, held and rejected, claims
# from the pending queue, approves one, meets a 409 for a stale revision, reads the history.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="http://127.0.0.1:${PORT:-5000}/api/v1"
SLUG="gazette-$RANDOM"
show() { echo; echo "\$ $*"; }
json() { python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), ensure_ascii=False, indent=1))'; }

show flask sites create "$SLUG" --name "The Gazette" --mode post
out=$(FLASK_APP=wsgi .venv/bin/flask sites create "$SLUG" --name "The Gazette" --mode post)
echo "$out" | sed 's/\(API key[^:]*: mjl_.\{6\}\).*/\1…/'
KEY=$(echo "$out" | sed -n 's/^API key (shown once, store it now): //p')
AUTH=(-H "Authorization: Bearer $KEY")
J=(-H 'Content-Type: application/json')

show curl -X PUT "$BASE/sites/$SLUG/settings" -d '{"banned_words": ["قمار"], "suspect_words": ["سياسة*"]}'
curl -s -X PUT "${AUTH[@]}" "${J[@]}" "$BASE/sites/$SLUG/settings" \
  -d '{"banned_words": ["قمار"], "suspect_words": ["سياسة*"]}' | json

post() {
  curl -s -X POST "${J[@]}" "$BASE/sites/$SLUG/comments" \
    -d "{\"thread\": \"budget-2027\", \"author_name\": \"$1\", \"author_email\": \"$2\", \"body\": \"$3\"}"
}
show "POST a clean comment  → published"
post "Layla" "layla@example.org" "تحليل ممتاز للميزانية" | json
show "POST a comment with a suspect word (tatweel and fatha inside) → held, with the span"
post "Omar" "omar@example.org" "هذه السيـاسَة فاشلة" | json
show "POST a comment with a banned word behind a proclitic → rejected (the author sees pending)"
post "Spammer" "spam@example.org" "العب بالقمار الآن" | json

show curl "$BASE/sites/$SLUG/queues"
curl -s "${AUTH[@]}" "$BASE/sites/$SLUG/queues" | json

show curl "$BASE/sites/$SLUG/queues/rejected"   "(reasons with spans)"
curl -s "${AUTH[@]}" "$BASE/sites/$SLUG/queues/rejected" | python3 -c '
import json,sys
for i in json.load(sys.stdin)["items"]:
    s, e = i["reasons"][0]["span"]
    print(i["id"], i["status"], i["reasons"], "→ span text:", repr(i["body_source"][s:e]))'

show curl -X POST "$BASE/sites/$SLUG/queues/pending/claim" -H 'X-Majlis-Moderator: amal' -d '{"limit": 10}'
claim=$(curl -s -X POST "${AUTH[@]}" "${J[@]}" -H 'X-Majlis-Moderator: amal' "$BASE/sites/$SLUG/queues/pending/claim" -d '{"limit": 10}')
echo "$claim" | python3 -c '
import json,sys
for i in json.load(sys.stdin)["items"]:
    print(i["id"], i["status"], "rev", i["revision"], i["claim"], [(r["code"], r.get("span")) for r in i["reasons"]])'
ID=$(echo "$claim" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

show "curl -X POST $BASE/sites/$SLUG/comments/$ID/decision  (as bilal, who does not hold it)"
curl -s -X POST "${AUTH[@]}" "${J[@]}" -H 'X-Majlis-Moderator: bilal' "$BASE/sites/$SLUG/comments/$ID/decision" \
  -d '{"action": "approve", "revision": 1}' -w '  → HTTP %{http_code}\n'
show "curl -X POST $BASE/sites/$SLUG/comments/$ID/decision -d '{\"action\": \"approve\", \"revision\": 1}'  (amal)"
curl -s -X POST "${AUTH[@]}" "${J[@]}" -H 'X-Majlis-Moderator: amal' "$BASE/sites/$SLUG/comments/$ID/decision" \
  -d '{"action": "approve", "revision": 1}' | python3 -c '
import json,sys; c=json.load(sys.stdin)["comment"]; print({k: c[k] for k in ("id","status","revision")})'
show "the same decision again, on the revision amal saw before → 409"
curl -s -X POST "${AUTH[@]}" "${J[@]}" -H 'X-Majlis-Moderator: amal' "$BASE/sites/$SLUG/comments/$ID/decision" \
  -d '{"action": "reject", "reason": "off_topic", "revision": 1}' -w '  → HTTP %{http_code}\n'

show curl "$BASE/sites/$SLUG/comments/$ID/history"
curl -s "${AUTH[@]}" "$BASE/sites/$SLUG/comments/$ID/history" | json
show curl "$BASE/sites/$SLUG/comments?thread=budget-2027"   "(the public thread: published + approved)"
curl -s "$BASE/sites/$SLUG/comments?thread=budget-2027" | python3 -c '
import json,sys; d=json.load(sys.stdin); print(d["thread"]["comment_count"], [(c["id"], c["status"]) for c in d["comments"]])'
