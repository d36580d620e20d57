#!/bin/sh
# /init of the virtual Raspberry Pi (cross/vm-test.sh builds the initramfs around it): loads the
# drivers, runs the device tests and powers off. Results are console lines "VMTEST PASS|FAIL NAME:
# detail" that the host reads; /vmtest.env (written by the host) says what to run.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
. /vmtest.env
uptime() { cut -d' ' -f1 /proc/uptime; }
pass() { echo "VMTEST PASS $1: $2"; }
fail() { echo "VMTEST FAIL $1: $2"; }
finish() { echo "VMTEST END at $(uptime) s"; sync; poweroff -f; }
echo "VMTEST booted at $(uptime) s, kernel $(uname -r)"

# Modules in `modprobe --show-depends` order (the host wrote the list), with vivid's parameters:
# one instance with a capture node (video0) and an output node (video1), single-planar.
while read -r module; do
    case "$module" in
        vivid.ko) insmod "/lib/modules/$module" n_devs=1 node_types=0x101 multiplanar=1 ;;
        *) insmod "/lib/modules/$module" ;;
    esac || fail modules "insmod $module failed"
done < /lib/modules/order
wait_for() {  # PATH SECONDS
    i=0
    while [ ! -e "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    [ -e "$1" ]
}
for node in /dev/video0 /dev/video1 /dev/ttyUSB0; do
    wait_for $node 10 || fail modules "no $node after 10 s"
done
echo "VMTEST drivers ready at $(uptime) s"

# --- camera: frames fed into vivid's output come back from `dactyl record` byte for byte -----
feeder play /dev/video0 /dev/video1 "$CLIP" "$CLIP_X" "$CLIP_Y" --ready /tmp/feeder.ready 2>&1 &
feeder_pid=$!
if wait_for /tmp/feeder.ready 30; then
    start=$(uptime)
    if dactyl record /dev/video0 --frames "$RECORD_FRAMES" --size 640x480 --pixel-format yuyv --out /tmp/record.y4m 2>&1; then
        echo "VMTEST record took $(awk "BEGIN { print $(uptime) - $start }") s"
        result=$(feeder verify /tmp/record.y4m "$CLIP" "$CLIP_X" "$CLIP_Y" 2>/dev/null)
        echo "$result"
        case "$result" in
            "VERIFY PASS"*) pass camera "${result#VERIFY PASS: }" ;;
            *) fail camera "${result#VERIFY FAIL: }" ;;
        esac
    else
        fail camera "dactyl record failed"
    fi
else
    fail camera "the feeder did not start streaming"
fi
rm -f /tmp/record.y4m

# --- camera lost and back: vivid unbound while `dactyl record --reconnect` streams, then bound
# again. The camera is opened through a symlink, as a board opens /dev/v4l/by-id/...; the link
# goes with the device and comes back once the feeder has set the new instance up (as udev makes
# it only when the device is there), so the reopened camera loops the feeder's frames again.
node() { for d in /sys/class/video4linux/video*; do [ "$(cat $d/name)" = "$1" ] && echo /dev/${d##*/}; done; }
ln -sf "$(node vivid-000-vid-cap)" /dev/camera
dactyl record /dev/camera --reconnect --frames "$RECONNECT_FRAMES" --size 640x480 --pixel-format yuyv \
    --out /tmp/reconnect.y4m > /tmp/reconnect.log 2>&1 &
record_pid=$!
sleep 0.5
rm -f /dev/camera
# Unbound while the feeder still streams: stopping the feeder first would leave the capture side
# showing vivid's noise (loop mode with no output) until the unbind.
echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind
echo "VMTEST vivid unbound at $(uptime) s"
kill $feeder_pid 2>/dev/null; wait $feeder_pid 2>/dev/null
sleep 0.5
echo vivid.0 > /sys/bus/platform/drivers/vivid/bind
wait_for /sys/class/video4linux/video1 10
rm -f /tmp/feeder.ready
feeder play "$(node vivid-000-vid-cap)" "$(node vivid-000-vid-out)" "$CLIP" "$CLIP_X" "$CLIP_Y" --ready /tmp/feeder.ready 2>&1 &
feeder_pid=$!
# The link after the feeder has streamed a moment, as udev makes it a moment after the device.
wait_for /tmp/feeder.ready 30 && sleep 0.5 && ln -sf "$(node vivid-000-vid-cap)" /dev/camera
echo "VMTEST vivid bound again and fed at $(uptime) s"
wait $record_pid
record_status=$?
cat /tmp/reconnect.log
if [ $record_status != 0 ]; then
    fail reconnect "dactyl record --reconnect failed: $(tail -n 1 /tmp/reconnect.log)"
elif ! grep -q "camera lost: " /tmp/reconnect.log || ! grep -q " 1 reconnects" /tmp/reconnect.log; then
    fail reconnect "dactyl record did not report the loss and one reconnect"
else
    result=$(feeder verify /tmp/reconnect.y4m "$CLIP" "$CLIP_X" "$CLIP_Y" 1 2>/tmp/verify.log)
    case "$result" in
        "VERIFY PASS"*) pass reconnect "$(grep -o 'camera lost: [^;]*' /tmp/reconnect.log), $(grep -o 'camera back after [0-9.]* s' /tmp/reconnect.log); ${result#VERIFY PASS: }" ;;
        *) fail reconnect "${result#VERIFY FAIL: }"; tr "\n" " " < /tmp/verify.log; echo ;;
    esac
fi
kill $feeder_pid 2>/dev/null; wait $feeder_pid 2>/dev/null
rm -f /tmp/reconnect.y4m

# --- camera, NV12: the semi-planar layout through the same path, recorded as C420 -------------
rm -f /tmp/feeder.ready
feeder play "$(node vivid-000-vid-cap)" "$(node vivid-000-vid-out)" "$CLIP" "$CLIP_X" "$CLIP_Y" --format nv12 \
    --ready /tmp/feeder.ready 2>&1 &
feeder_pid=$!
if wait_for /tmp/feeder.ready 30 && dactyl record "$(node vivid-000-vid-cap)" --frames "$RECORD_FRAMES" --size 640x480 \
        --pixel-format nv12 --out /tmp/record-nv12.y4m 2>&1; then
    result=$(feeder verify /tmp/record-nv12.y4m "$CLIP" "$CLIP_X" "$CLIP_Y" 2>/dev/null)
    case "$result" in
        "VERIFY PASS"*) pass camera-nv12 "${result#VERIFY PASS: }" ;;
        *) fail camera-nv12 "${result#VERIFY FAIL: }" ;;
    esac
else
    fail camera-nv12 "the feeder or dactyl record failed"
fi
kill $feeder_pid 2>/dev/null; wait $feeder_pid 2>/dev/null
rm -f /tmp/record-nv12.y4m

# --- GPIO: the PL061's lines driven through sysfs show in debugfs as out hi / out lo ----------
chip=""
for c in /sys/class/gpio/gpiochip*; do
    case "$(cat $c/label 2>/dev/null)" in *pl061*) chip=$c ;; esac
done
if [ -z "$chip" ]; then
    fail gpio "no PL061 gpiochip in /sys/class/gpio"
else
    line=$(($(cat $chip/base) + GPIO_TEST_LINE))
    echo $line > /sys/class/gpio/export
    echo out > /sys/class/gpio/gpio$line/direction
    echo 1 > /sys/class/gpio/gpio$line/value
    high=$(grep -E "gpio-$line .*out hi" /sys/kernel/debug/gpio)
    echo 0 > /sys/class/gpio/gpio$line/value
    low=$(grep -E "gpio-$line .*out lo" /sys/kernel/debug/gpio)
    echo $line > /sys/class/gpio/unexport
    if [ -n "$high" ] && [ -n "$low" ]; then
        pass gpio "line $GPIO_TEST_LINE of $(basename $chip) ($(cat $chip/label)) showed out hi, then out lo in /sys/kernel/debug/gpio"
    else
        fail gpio "line $GPIO_TEST_LINE of $(basename $chip): debugfs did not show out hi then out lo"
        cat /sys/kernel/debug/gpio
    fi
fi

# --- GPIO at `dactyl run` start-up: a line held by another program (sysfs export) and a chip that
# is not there. Each is one line on stderr and the box runs without GPIO (exit 0, words on stdout).
if [ -n "$chip" ] && [ "$RUN" = 1 ]; then
    held=$(($(cat $chip/base) + $(sed -n 's/^gpio.status-led *= *\([0-9]*\).*/\1/p' /board.conf)))
    echo $held > /sys/class/gpio/export
    dactyl run "$CLIP" --board /board.conf --crop 0,0,128,128 --sink stdout,gpio --fast --max-frames 3 \
        > /tmp/busy.out 2> /tmp/busy.err
    busy_status=$?
    echo $held > /sys/class/gpio/unexport
    dactyl run "$CLIP" --board /board.conf --crop 0,0,128,128 --sink stdout,gpio --gpio-chip gpiochip9 --fast \
        --max-frames 3 > /tmp/nochip.out 2> /tmp/nochip.err
    nochip_status=$?
    sed 's/^/gpio-busy stderr: /' /tmp/busy.err /tmp/nochip.err
    if [ $busy_status != 0 ] || ! grep -q "gpiochip0: cannot request GPIO line .*busy.*running without GPIO" /tmp/busy.err; then
        fail gpio-busy "line held by sysfs: exit $busy_status, stderr: $(head -n 2 /tmp/busy.err | tr '\n' ' ')"
    elif [ $nochip_status != 0 ] || ! grep -q "gpiochip9: .*running without GPIO" /tmp/nochip.err; then
        fail gpio-busy "no such chip: exit $nochip_status, stderr: $(head -n 2 /tmp/nochip.err | tr '\n' ' ')"
    else
        pass gpio-busy "$(head -n 1 /tmp/busy.err); $(head -n 1 /tmp/nochip.err); both ran on (exit 0)"
    fi
fi

# --- serial: a line written to the FTDI adapter reaches the host's file --------------------------
stty -F /dev/ttyUSB0 115200 raw -echo 2>&1
echo "VMTEST serial $SERIAL_TOKEN" > /dev/ttyUSB0 && echo "VMTEST serial line written"

# --- dactyl devices: the camera, GPIO chip and serial port listed as a person setting up a box sees
# them; a PL061 line exported as an output through sysfs must show as in use (by "sysfs"): line 2,
# which the run step's profile leaves alone (0 and 1 are its LEDs, 3 the power button).
if [ -n "$chip" ]; then
    used_line=$(($(cat $chip/base) + 2))
    echo $used_line > /sys/class/gpio/export && echo out > /sys/class/gpio/gpio$used_line/direction
fi
dactyl devices > /tmp/devices.txt 2>&1
devices_status=$?
[ -n "$chip" ] && echo $used_line > /sys/class/gpio/unexport
sed 's/^/VMTEST devices | /' /tmp/devices.txt
capture=$(node vivid-000-vid-cap); output=$(node vivid-000-vid-out)
problems=""
[ $devices_status = 0 ] || problems="$problems exit status $devices_status;"
grep -q "^  $capture: \"vivid\" (vivid, platform:vivid-000), you may open it" /tmp/devices.txt || problems="$problems no vivid capture node $capture;"
# vivid offers any size in steps (so the rates are asked at 640x480); a webcam lists sizes.
grep -qE "^    YUYV \"[^\"]*\" \(dactyl reads it\): .*(640x480 at|at 640x480:) [0-9]" /tmp/devices.txt || problems="$problems no YUYV at 640x480 with frame rates;"
grep -q "^  $output: .*an output or memory-to-memory node" /tmp/devices.txt || problems="$problems $output not reported as an output node;"
grep -qE "^  /dev/gpiochip[0-9]+: [^,]*pl061[^,]*, [0-9]+ lines, you may open it" /tmp/devices.txt || problems="$problems no PL061 chip;"
grep -qE "^    in use: (.*, )?2 output by sysfs" /tmp/devices.txt || problems="$problems PL061 line 2 not shown in use by sysfs;"
grep -q "^  /dev/ttyUSB0: you may open it" /tmp/devices.txt || problems="$problems no /dev/ttyUSB0;"
grep -q "^  not possible here: no USB device controller" /tmp/devices.txt || problems="$problems the USB keyboard section;"
if [ -z "$problems" ]; then
    pass devices "vivid $capture with $(grep -c '^    [A-Z0-9]\{4\} "' /tmp/devices.txt) capture formats, $output as output, $(grep -oE 'pl061[^,]*, [0-9]+ lines' /tmp/devices.txt | head -n 1) (line 2 in use by sysfs), /dev/ttyUSB0, no USB device controller"
else
    fail devices "$problems"
fi

# --- the live box: `dactyl run` over the session clip, words to the serial port, LEDs on GPIO ---
if [ "$RUN" = 1 ]; then
    . /run-step.sh
    . /run-lost-step.sh
fi
finish
