# Sourced by the guest's /init (cross/vm/init.sh) when the host enabled the run step: `dactyl run`
# on vivid's capture node over the session clip, words to /dev/ttyUSB0, LEDs on the PL061.
echo "VMTEST run step: not written yet"
fail run "the run step is not written yet"
