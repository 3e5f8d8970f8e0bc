#!/usr/bin/env bash
# README.md's "Using it" block, and the blocks of docs/*.md marked
# "<!-- run: demo -->", run as a person would paste them after
# `make run`: scripts/run-demo fills a fresh data dir (fewer events a day,
# same seed, so the same accounts) and serves it on a free port; the block's
# commands then run in order in one shell, from a directory laid out like the
# repository (build/, ./data, ../shared). Each command must exit 0 and print
# something. Only the port (8460 -> a free one) and the scratch files
# (/tmp/trailkeep-readme* -> this test's own directory) are changed.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http/http_lib.bash"
W=$TMP/w
mkdir -p "$W"
ln -s "$TK_ROOT/build" "$W/build"
ln -s "${TK_SHARED:?}" "$TMP/shared"
[ -x "$W/build/release/trailkeep" ] || { nok "build/release/trailkeep exists (make build)"; tk_done; }
PORT=$(free_port)
DEMO_PER_DAY=3000 TK_BIN_REL="$W/build/release/trailkeep" "$TK_ROOT/scripts/run-demo" "$W/data" "127.0.0.1:$PORT" \
  >"$TMP/run.out" 2>"$TMP/run.err" &
TK_CLEANUP_PIDS+=($!)
for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
check "make run's demo (scripts/run-demo) serves on 127.0.0.1:$PORT" curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"
check "  ... and names its fixed accounts" grep -q "accounts 1073472611346880 1998437070962934 2474701183265580" "$TMP/run.out"

# The block, continuation lines joined, one command per line.
$PY - "$TK_ROOT/README.md" "$PORT" "$TMP" >"$TMP/cmds" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
sec = text[text.index("## Using it"):]
block = sec[sec.index("```sh\n") + 6:]
block = block[:block.index("```")]
block = block.replace("\\\n", " ").replace("127.0.0.1:8460", "127.0.0.1:" + sys.argv[2])
block = block.replace("/tmp/trailkeep-readme", sys.argv[3] + "/trailkeep-readme")  # private scratch
for line in block.splitlines():
    line = line.strip()
    if line and not line.startswith("#"):
        print(line)
PYEOF
check "the README has a 'Using it' block of at least 10 commands" test "$(wc -l <"$TMP/cmds")" -ge 10

# One shell for all: variables (B, KEY_ID...) carry from line to line.
{
  echo 'cd "$1" || exit 1'
  n=0
  while IFS= read -r c; do
    n=$((n + 1))
    printf 'echo "### %d"\n' "$n"
    case "$c" in
      B=*|.\ *) printf '%s; echo "### rc $?"\n' "$c" ;;
      # On lines of their own, so a trailing "# comment" ends at the newline.
      *) printf '(\n%s\n) >"$2/out.%d" 2>&1; echo "### rc $?"; cat "$2/out.%d"\n' "$c" "$n" "$n" ;;
    esac
  done <"$TMP/cmds"
} >"$TMP/block.sh"
bash "$TMP/block.sh" "$W" "$TMP" >"$TMP/block.out" 2>&1
n=0
while IFS= read -r c; do
  n=$((n + 1))
  rc=$(awk -v n="$n" '$0=="### "n{f=1; next} f && /^### rc /{print $3; exit}' "$TMP/block.out")
  short=$(printf '%s' "$c" | cut -c1-110)
  if [ "$rc" != 0 ]; then
    nok "README: $short (exit ${rc:-none})"; sed 's/^/#   /' "$TMP/out.$n" 2>/dev/null | head -5
  elif [ -f "$TMP/out.$n" ] && [ ! -s "$TMP/out.$n" ]; then
    nok "README: $short (no output)"
  else
    ok "README: $short"
  fi
done <"$TMP/cmds"

# What the outputs must show, not only that they exist.
out_of() { grep -n -F -- "$1" "$TMP/cmds" | head -1 | cut -d: -f1; }
check "accounts list shows the three demo accounts with events" \
  bash -c "[ \$(grep -cE '^(1073472611346880|1998437070962934|2474701183265580) +demo-[123] +[1-9][0-9]* ' '$TMP/out.$(out_of 'accounts list')') -eq 3 ]"
check "lookup --start -24h finds ConsoleSignin events (the demo ends now)" \
  grep -q ConsoleSignin "$TMP/out.$(out_of 'event-name ConsoleSignin --start -24h')"
check "the HTTP lookup of a member account through the organization returns events" \
  grep -q '"eventName":"ConsoleSignin"' "$TMP/out.$(out_of 'v1/lookup?StartTime=-1d')"
check "the aws CLI returns events" grep -q '"EventName": "ConsoleSignin"' "$TMP/out.$(out_of 'aws cloudtrail lookup-events')"
check "the ingest was accepted" grep -q '"Accepted":1\|"accepted":1' "$TMP/out.$(out_of 'v1/events')"
check "the trail was created and has a status" grep -q '"IsLogging"' "$TMP/out.$(out_of 'GetTrailStatus')"
check "rules test finds the brute-force sign-ins" grep -q 'consecutive-logon-failures' "$TMP/out.$(out_of 'rules test')"
check "insights run finds incidents in the demo" grep -qE 'Insight ' "$TMP/out.$(out_of 'insights run')"
check "import stores the events and the stratus logs" grep -qE 'events: +[1-9][0-9,]* accepted' "$TMP/out.$(out_of ' import --data')"
check "verify finds 0 problems" grep -q ', 0 problem(s)' "$TMP/out.$(out_of 'verify --data ./data')"

# Blocks of docs/*.md marked "<!-- run: demo -->": each runs whole (its
# commands may span lines) in the same shell state, after the README block,
# with DIR = ./data, the test's port, `trailkeep` = the release build, and
# curl failing on an HTTP error (--fail-with-body), so a doc that gets 401
# or 400 fails here.
$PY - "$TK_ROOT" "$PORT" "$TMP" <<'PYEOF'
import glob, os, sys
root, port, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
for path in sorted(glob.glob(os.path.join(root, "docs", "*.md"))):
    lines = open(path).read().split("\n")
    for i, line in enumerate(lines):
        if line.strip() != "<!-- run: demo -->":
            continue
        j = i + 1
        assert lines[j].startswith("```sh"), "%s:%d: the marker must precede a ```sh block" % (path, j + 1)
        k = j + 1
        while not lines[k].startswith("```"):
            k += 1
        body = "\n".join(lines[j + 1:k]).replace("127.0.0.1:8460", "127.0.0.1:" + port)
        body = body.replace(" DIR", " ./data")
        n += 1
        with open(os.path.join(tmp, "doc.%d.sh" % n), "w") as f:
            f.write(body + "\n")
        with open(os.path.join(tmp, "doc.%d.name" % n), "w") as f:
            f.write("%s:%d" % (os.path.relpath(path, root), j + 1))
print(n, file=sys.stderr)
PYEOF
ndocs=$(ls "$TMP"/doc.*.sh 2>/dev/null | wc -l)
check "docs/: at least 3 blocks are marked to run" test "$ndocs" -ge 3
{
  echo 'cd "$1" || exit 1'
  echo 'B=build/release/trailkeep; . ./data/demo-credentials'
  echo 'trailkeep() { "$PWD/build/release/trailkeep" "$@"; }'
  echo 'curl() { command curl -sS --fail-with-body "$@"; }'
  for i in $(seq 1 "$ndocs"); do
    printf '( set -e
. "%s/doc.%d.sh"
) >"%s/docout.%d" 2>&1; echo "### doc %d rc $?"
' "$TMP" "$i" "$TMP" "$i" "$i"
  done
} >"$TMP/docs.sh"
bash "$TMP/docs.sh" "$W" >"$TMP/docs.out" 2>&1
for i in $(seq 1 "$ndocs"); do
  rc=$(sed -n "s/^### doc $i rc //p" "$TMP/docs.out")
  name=$(cat "$TMP/doc.$i.name")
  if [ "$rc" = 0 ]; then ok "docs: the block at $name runs"; else
    nok "docs: the block at $name runs (exit ${rc:-none})"; tail -5 "$TMP/docout.$i" | sed 's/^/#   /'; fi
done
tk_done
