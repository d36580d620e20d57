# Sourced by the guest's /init (cross/vm/init.sh) when the host enabled the run step: the live box
# on vivid's capture node. The feeder shows the background (nobody there) until dactyl is up, then
# the session clip once, then the background again; `dactyl run` sends each word to /dev/ttyUSB0
# (the host reads them from its file) and drives the LEDs on the PL061, which a watcher samples in
# /sys/kernel/debug/gpio. SIGTERM ends the run after the clip (the current word is committed).
profile() { sed -n "s/^$1 *= *\([^ #]*\).*/\1/p" /board.conf; }
capture=$(node vivid-000-vid-cap)
output=$(node vivid-000-vid-out)
rm -f /tmp/go /tmp/run-feeder.ready /tmp/run-feeder.done /tmp/leds.log
feeder play "$capture" "$output" "$RUN_CLIP" "$CLIP_X" "$CLIP_Y" --loops 1 --ready /tmp/run-feeder.ready \
    --start /tmp/go --done /tmp/run-feeder.done ${RUN_HOLD:+--hold $RUN_HOLD} 2>&1 &
feeder_pid=$!
if ! wait_for /tmp/run-feeder.ready 30; then
    fail run "the feeder did not start streaming"
    return 0
fi
base=$(cat $chip/base)
status_line=$((base + $(profile gpio.status-led)))
word_line=$((base + $(profile gpio.word-led)))
start=$(uptime)
dactyl run "$capture" --board /board.conf --crop "$RUN_CROP" --sink serial,gpio,stdout --serial /dev/ttyUSB0 --stats > /tmp/run.out 2> /tmp/run.err &
run_pid=$!
# The LEDs as debugfs shows them, one line per change: "TIME status=out hi word=out lo".
(
    last=""
    while kill -0 $run_pid 2>/dev/null; do
        state="status=$(grep -E "gpio-$status_line " /sys/kernel/debug/gpio | grep -oE '(out|in) (hi|lo)') word=$(grep -E "gpio-$word_line " /sys/kernel/debug/gpio | grep -oE '(out|in) (hi|lo)')"
        [ "$state" != "$last" ] && echo "$(uptime) $state" >> /tmp/leds.log
        last=$state
        sleep 0.05
    done
) &
watcher_pid=$!
sleep "$RUN_WARMUP"
touch /tmp/go
echo "VMTEST run: dactyl started at $start s, session clip from $(uptime) s"
wait_for /tmp/run-feeder.done "$RUN_CLIP_TIMEOUT" || echo "VMTEST run: the feeder did not finish the clip"
sleep "$RUN_TAIL"
kill -TERM $run_pid 2>/dev/null
wait $run_pid
run_status=$?
echo "VMTEST run: dactyl run exited $run_status at $(uptime) s"
kill $watcher_pid $feeder_pid 2>/dev/null; wait $watcher_pid $feeder_pid 2>/dev/null
sed 's/^/dactyl run stdout: /' /tmp/run.out
sed 's/^/dactyl run stderr: /' /tmp/run.err
sed 's/^/leds: /' /tmp/leds.log
word_high=$(grep -c "word=out hi" /tmp/leds.log)
word_low=$(grep -c "word=out lo" /tmp/leds.log)
status_changes=$(cut -d' ' -f2- /tmp/leds.log | sed 's/ word=.*//' | uniq | wc -l)
if [ $run_status != 0 ]; then
    fail run "dactyl run exited with status $run_status: $(tail -n 1 /tmp/run.err)"
elif [ "$word_high" -lt 1 ] || [ "$word_low" -lt 1 ]; then
    fail run "the word LED (line $(profile gpio.word-led)) did not toggle: seen out hi $word_high, out lo $word_low times"
else
    pass run "exit 0 after SIGTERM; word LED toggled (out hi seen $word_high, out lo $word_low times), status LED changed $status_changes times; $(grep -m1 'frame latency' /tmp/run.err | sed 's/^dactyl: //')"
fi
