#!/usr/bin/env bash
# Makes the board a USB keyboard (Linux USB HID gadget through configfs), for `dactyl run`'s
# keyboard sink: the box then types each committed word into the computer or phone it is
# plugged into. Creates /dev/hidg0 (the device the sink writes boot-protocol reports to).
#
# Usage (as root):  board/usb-keyboard-gadget.sh [--udc NAME] [--remove] [--status]
#   (no option)  set the gadget up and bind it to the first USB device controller; idempotent:
#                run it again (at every boot, e.g. from a systemd unit) and it only binds what is
#                missing; prints the hidg device
#   --udc NAME   bind to this controller (ls /sys/class/udc), not the first one
#   --remove     unbind and remove the gadget (dactyl must not hold /dev/hidg0)
#   --status     say whether the gadget exists and is bound; exit 1 if not bound
#
# The board must be able to act as a USB device, on the port that connects it to the host:
#   Pi Zero 2 W  the micro-USB port marked USB (not PWR IN)
#   Pi 4, Pi 5   the USB-C power port (the host must then supply enough power, or use a
#                powered hub/splitter)
# and the controller must run in peripheral mode: add to /boot/firmware/config.txt
#     dtoverlay=dwc2,dr_mode=peripheral
# and reboot (Pi 5: its USB-C port's controller is used the same way with this overlay).
# A generic PC has no device controller: there is no USB keyboard sink there.
set -euo pipefail

GADGET_NAME=dactyl
CONFIGFS=/sys/kernel/config
UDC_NAME=""
ACTION=setup
while (($#)); do
    case "$1" in
        --udc) UDC_NAME="${2:?--udc needs a controller name (ls /sys/class/udc)}"; shift 2 ;;
        --remove) ACTION=remove; shift ;;
        --status) ACTION=status; shift ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usb-keyboard-gadget.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

G="$CONFIGFS/usb_gadget/$GADGET_NAME"

fail() { echo "usb-keyboard-gadget.sh: $*" >&2; exit 1; }
bound_udc() { [[ -f "$G/UDC" ]] && cat "$G/UDC" || true; }
hidg_device() {
    # functions/hid.usb0/dev is MAJOR:MINOR of the /dev/hidgN node the kernel made.
    local dev minor
    dev=$(cat "$G/functions/hid.usb0/dev" 2>/dev/null) || return 0
    minor=${dev#*:}
    echo "/dev/hidg$minor"
}

if [[ "$ACTION" == status ]]; then
    if [[ ! -d "$G" ]]; then echo "no gadget $GADGET_NAME"; exit 1; fi
    udc=$(bound_udc)
    if [[ -z "$udc" ]]; then echo "gadget $GADGET_NAME exists, not bound"; exit 1; fi
    echo "gadget $GADGET_NAME bound to $udc: $(hidg_device)"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || fail "run as root (configfs)"

if [[ "$ACTION" == remove ]]; then
    [[ -d "$G" ]] || { echo "no gadget $GADGET_NAME: nothing to remove"; exit 0; }
    [[ -n "$(bound_udc)" ]] && echo "" > "$G/UDC"
    rm -f "$G/configs/c.1/hid.usb0"
    rmdir "$G/configs/c.1/strings/0x409" 2>/dev/null || true
    rmdir "$G/configs/c.1" 2>/dev/null || true
    rmdir "$G/functions/hid.usb0" 2>/dev/null || true
    rmdir "$G/strings/0x409" 2>/dev/null || true
    rmdir "$G"
    echo "removed gadget $GADGET_NAME"
    exit 0
fi

# Set-up. Every step checks first, so a second run changes nothing that is already there
# (attributes of a bound gadget cannot be written: EBUSY).
if [[ -n "$(bound_udc)" ]]; then
    echo "gadget $GADGET_NAME already bound to $(bound_udc): $(hidg_device)"
    exit 0
fi

modprobe libcomposite 2>/dev/null || [[ -d "$CONFIGFS/usb_gadget" ]] || fail "cannot load libcomposite (the kernel's USB gadget framework)"
if [[ ! -d "$CONFIGFS/usb_gadget" ]]; then
    mountpoint -q "$CONFIGFS" || mount -t configfs none "$CONFIGFS" || fail "cannot mount configfs at $CONFIGFS"
fi
[[ -d "$CONFIGFS/usb_gadget" ]] || fail "$CONFIGFS/usb_gadget missing after loading libcomposite"

mkdir -p "$G"
# Linux Foundation's vendor ID and its "Multifunction Composite Gadget" product ID, as the
# kernel's own examples use: fine for a device of one's own, not for one sold.
echo 0x1d6b > "$G/idVendor"
echo 0x0104 > "$G/idProduct"
echo 0x0100 > "$G/bcdDevice"
echo 0x0200 > "$G/bcdUSB"
mkdir -p "$G/strings/0x409"
serial=$(cat /sys/firmware/devicetree/base/serial-number 2>/dev/null | tr -d '\0' || true)
echo "${serial:-0000000000000000}" > "$G/strings/0x409/serialnumber"
echo "Dactyl" > "$G/strings/0x409/manufacturer"
echo "Dactyl fingerspelling keyboard" > "$G/strings/0x409/product"

mkdir -p "$G/configs/c.1/strings/0x409"
echo "Keyboard" > "$G/configs/c.1/strings/0x409/configuration"
echo 100 > "$G/configs/c.1/MaxPower"

# The HID function: a boot-protocol keyboard (subclass 1 = boot interface, protocol 1 =
# keyboard), 8-byte reports [modifiers, reserved, key1..key6], with the report descriptor of
# the HID 1.11 specification, Appendix B.1 (LED output report included; dactyl ignores it).
F="$G/functions/hid.usb0"
mkdir -p "$F"
echo 1 > "$F/protocol"
echo 1 > "$F/subclass"
echo 8 > "$F/report_length"
printf '%b' '\x05\x01\x09\x06\xa1\x01\x05\x07\x19\xe0\x29\xe7\x15\x00\x25\x01\x75\x01\x95\x08\x81\x02\x95\x01\x75\x08\x81\x03\x95\x05\x75\x01\x05\x08\x19\x01\x29\x05\x91\x02\x95\x01\x75\x03\x91\x03\x95\x06\x75\x08\x15\x00\x25\x65\x05\x07\x19\x00\x29\x65\x81\x00\xc0' > "$F/report_desc"
[[ -L "$G/configs/c.1/hid.usb0" ]] || ln -s "$F" "$G/configs/c.1/"

if [[ -z "$UDC_NAME" ]]; then
    UDC_NAME=$(ls /sys/class/udc 2>/dev/null | head -n 1 || true)
    [[ -n "$UDC_NAME" ]] || fail "no USB device controller in /sys/class/udc (add dtoverlay=dwc2,dr_mode=peripheral to /boot/firmware/config.txt and reboot)"
fi
[[ -e "/sys/class/udc/$UDC_NAME" ]] || fail "no USB device controller $UDC_NAME (have: $(ls /sys/class/udc 2>/dev/null | tr '\n' ' '))"
echo "$UDC_NAME" > "$G/UDC"

for _ in 1 2 3 4 5 6 7 8 9 10; do
    device=$(hidg_device)
    [[ -n "$device" && -e "$device" ]] && break
    sleep 0.1
done
echo "gadget $GADGET_NAME bound to $UDC_NAME: ${device:-/dev/hidg0}"
echo "test it: dactyl run ... --sink keyboard (or: printf '\\0\\0\\x0b\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0' > ${device:-/dev/hidg0} types h)"
