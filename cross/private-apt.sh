# Sourced by cross/sysroot.sh and cross/vm/fetch.sh: a private APT configuration for arm64
# packages (APT::Architecture "arm64", its own state, lists and cache under one folder), so the
# host's dpkg architecture and apt state are never touched.
#
# private_apt_config CACHE: expects CACHE/etc/sources.list; writes CACHE/apt.conf, makes the
# folders and an empty dpkg status (apt sees nothing installed for arm64), exports APT_CONFIG.
# APT_CONFIG is read first and moves Dir::Etc::Parts/main away from /etc/apt, so no host apt
# configuration takes part.
private_apt_config() {
    local cache="$1"
    mkdir -p "$cache"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,state/lists/partial,cache/archives/partial,log}
    touch "$cache/state/status"
    cat > "$cache/apt.conf" <<CONF
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Dir::Etc "$cache/etc";
Dir::Etc::SourceList "$cache/etc/sources.list";
Dir::Etc::SourceParts "$cache/etc/sources.list.d";
Dir::Etc::Parts "$cache/etc/apt.conf.d";
Dir::Etc::Preferences "$cache/etc/preferences";
Dir::Etc::PreferencesParts "$cache/etc/preferences.d";
Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d";
Dir::State "$cache/state";
Dir::State::Lists "$cache/state/lists";
Dir::State::status "$cache/state/status";
Dir::Cache "$cache/cache";
Dir::Cache::Archives "$cache/cache/archives";
Dir::Log "$cache/log";
Debug::NoLocking "true";
APT::Sandbox::User "root";
CONF
    export APT_CONFIG="$cache/apt.conf"
}
