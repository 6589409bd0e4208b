#!/usr/bin/env bash
# Noise control: ignore.comm drops a process's events in the kernel, ignore.executable and
# ignore.path_prefix in user space; everything else still flows.
source "$(dirname "$0")/lib/common.bash"
need_root_bpf

mkdir -p "$WORK/noisy" "$WORK/kept"
cp /bin/true "$WORK/mamori-quiet"
cp /bin/true "$WORK/mamori-exe-ign"
cp /bin/true "$WORK/mamori-loud"
cat >"$WORK/ignore.yml" <<YML
ignore:
  comm: [mamori-quiet]
  executable: ["$WORK/mamori-exe-ign"]
  path_prefix: ["$WORK/noisy/"]
sources:
  inventory: off
YML
out=$WORK/events.jsonl
start_capture "$out" --config "$WORK/ignore.yml" --seconds 30
"$WORK/mamori-quiet"; "$WORK/mamori-exe-ign"; "$WORK/mamori-loud"
echo x >"$WORK/noisy/a"; echo y >"$WORK/kept/b"
# A file staged in an ignored directory and moved out must still be seen.
echo z >"$WORK/noisy/staged"; mv "$WORK/noisy/staged" "$WORK/kept/staged"
sleep 0.5
stop_capture
[ "$(jcount "$out" "'mamori-quiet' in g(e,'process.executable','')")" -eq 0 ] || fail "ignore.comm"
[ "$(jcount "$out" "g(e,'process.executable')=='$WORK/mamori-exe-ign'")" -eq 0 ] || fail "ignore.executable"
[ "$(jcount "$out" "g(e,'file.path','').startswith('$WORK/noisy/a')")" -eq 0 ] || fail "ignore.path_prefix"
expect "$out" "other exec kept" "g(e,'event.action')=='exec' and g(e,'process.executable')=='$WORK/mamori-loud'"
expect "$out" "other file kept" "g(e,'event.action')=='creation' and g(e,'file.path')=='$WORK/kept/b'"
expect "$out" "rename out of an ignored directory kept" \
  "g(e,'event.action')=='rename' and g(e,'file.path')=='$WORK/kept/staged'"
echo "ok: ignore lists"
