# Sourced by the guest's /init after the run step (cross/vm/init.sh): the live box loses its camera
# in the middle of the session and gets it back. `dactyl run` reads vivid through a symlink (as a
# board reads /dev/v4l/by-id/...); while the feeder plays the session, vivid is unbound (the node
# and the link go away), bound again a second later and fed the session anew. Checked: the loss
# and the return reach the sinks (JSON status lines camera-lost, then idle), frames are read after
# the return, SIGTERM still ends the box with exit 0, and every word dactyl committed, the one
# committed at the loss included, reached the serial port (the host compares the serial file).
capture=$(node vivid-000-vid-cap)
output=$(node vivid-000-vid-out)
rm -f /tmp/lost-feeder.ready /tmp/lost-feeder2.ready
ln -sf "$capture" /dev/camera
feeder play "$capture" "$output" "$RUN_CLIP" "$CLIP_X" "$CLIP_Y" --ready /tmp/lost-feeder.ready \
    ${RUN_HOLD:+--hold $RUN_HOLD} 2>/dev/null &
feeder_pid=$!
if ! wait_for /tmp/lost-feeder.ready 30; then
    fail run-lost "the feeder did not start streaming"
    return 0
fi
echo "VMTEST run-lost serial start" > /dev/ttyUSB0
dactyl run /dev/camera --board /board.conf --crop "$RUN_CROP" --sink serial,stdout --serial /dev/ttyUSB0 \
    --format jsonl --stats > /tmp/lost.out 2> /tmp/lost.err &
lost_pid=$!
sleep "$RUN_LOST_AFTER"
rm -f /dev/camera
echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind
echo "VMTEST run-lost: vivid unbound at $(uptime) s"
kill $feeder_pid 2>/dev/null; wait $feeder_pid 2>/dev/null
sleep 1
echo vivid.0 > /sys/bus/platform/drivers/vivid/bind
wait_for /sys/class/video4linux/video1 10
feeder play "$(node vivid-000-vid-cap)" "$(node vivid-000-vid-out)" "$RUN_CLIP" "$CLIP_X" "$CLIP_Y" \
    --ready /tmp/lost-feeder2.ready ${RUN_HOLD:+--hold $RUN_HOLD} 2>/dev/null &
feeder_pid=$!
wait_for /tmp/lost-feeder2.ready 30 && ln -sf "$(node vivid-000-vid-cap)" /dev/camera
echo "VMTEST run-lost: vivid bound again and fed at $(uptime) s"
sleep "$RUN_LOST_TAIL"
kill -TERM $lost_pid 2>/dev/null
wait $lost_pid
lost_status=$?
kill $feeder_pid 2>/dev/null; wait $feeder_pid 2>/dev/null
sed 's/^/dactyl run-lost stdout: /' /tmp/lost.out
sed 's/^/dactyl run-lost stderr: /' /tmp/lost.err
statuses=$(grep -o '"status":"[a-z-]*"' /tmp/lost.out | cut -d'"' -f4 | tr '\n' ' ')
after_back=$(sed -n '/"status":"camera-lost"/,$p' /tmp/lost.out | grep -c '"type":"partial"\|"type":"commit"\|"status":"hand"')
frames=$(grep -o '"frames_seen":[0-9]*' /tmp/lost.out | cut -d: -f2)
if [ $lost_status != 0 ]; then
    fail run-lost "dactyl run exited with status $lost_status: $(tail -n 1 /tmp/lost.err)"
elif ! echo " $statuses" | grep -q " camera-lost idle"; then
    fail run-lost "no camera-lost then idle among the statuses: $statuses"
else
    pass run-lost "exit 0 after SIGTERM; statuses: $statuses; $frames frames seen; $after_back hand/partial/commit events after the loss"
fi
