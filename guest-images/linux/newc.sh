# A writer of newc ("070701") cpio archives, the format the Linux kernel
# unpacks as an initramfs. Sourced by build-initramfs.sh.
#
# It writes the entries it is told to, owned by root with mtime 0, so the
# archive depends only on its contents (no umask, owner or clock of the
# machine that built it), and it needs neither root (device nodes are just
# headers) nor the kernel's gen_init_cpio.
#
#   newc_open FILE                   start an archive (truncates FILE)
#   newc_directory NAME PERMISSIONS  e.g. newc_directory dev 755
#   newc_file NAME PERMISSIONS SOURCE
#   newc_symlink NAME TARGET
#   newc_char_device NAME PERMISSIONS MAJOR MINOR
#   newc_close                       write the trailer
# NAME is relative to the root ("dev/console"); parents come first.

newc_output=
newc_offset=0
newc_inode=0

newc_open() {
    newc_output=$1
    newc_offset=0
    newc_inode=0
    : >"$newc_output"
}

# Zero bytes up to the next multiple of four, as newc aligns headers and data.
newc_pad() {
    local padding=$(((4 - newc_offset % 4) % 4))
    if [ $padding -gt 0 ]; then
        head -c $padding /dev/zero >>"$newc_output"
        newc_offset=$((newc_offset + padding))
    fi
}

# newc_header NAME MODE SIZE NLINK RDEV_MAJOR RDEV_MINOR
newc_header() {
    local name=$1 mode=$2 size=$3 links=$4 rdev_major=$5 rdev_minor=$6
    local name_size=$((${#name} + 1))
    newc_inode=$((newc_inode + 1))
    # magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
    # rdevmajor, rdevminor, namesize, check; then the name and its NUL.
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
        "$newc_inode" "$mode" 0 0 "$links" 0 "$size" 0 0 \
        "$rdev_major" "$rdev_minor" "$name_size" 0 "$name" >>"$newc_output"
    newc_offset=$((newc_offset + 110 + name_size))
    newc_pad
}

newc_directory() {
    newc_header "$1" $((8#040000 | 8#$2)) 0 2 0 0
}

newc_file() {
    local name=$1 permissions=$2 source=$3 size
    size=$(stat -L -c %s "$source")
    newc_header "$name" $((8#100000 | 8#$permissions)) "$size" 1 0 0
    cat "$source" >>"$newc_output"
    newc_offset=$((newc_offset + size))
    newc_pad
}

newc_symlink() {
    local name=$1 target=$2
    newc_header "$name" $((8#120000 | 8#777)) ${#target} 1 0 0
    printf '%s' "$target" >>"$newc_output"
    newc_offset=$((newc_offset + ${#target}))
    newc_pad
}

newc_char_device() {
    newc_header "$1" $((8#020000 | 8#$2)) 0 1 "$3" "$4"
}

newc_close() {
    newc_header 'TRAILER!!!' 0 0 1 0 0
}
