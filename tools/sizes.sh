#!/bin/sh
# sizes.sh - the size limits: no production .c over 800 lines, no function
# over 80. Prints each breach; exits 1 if there is one. A function is
# counted from its opening line (a line starting with a letter that ends a
# signature) to the closing brace in column 0.
# Usage: tools/sizes.sh [dir...]   (default: server storage common crypto client)
FILE_MAX=800
FN_MAX=80
[ $# -gt 0 ] || set -- server storage common crypto client
bad=0
for f in $(find "$@" -name '*.c' | sort); do
    n=$(wc -l < "$f")
    if [ "$n" -gt "$FILE_MAX" ]; then
        echo "$f: $n lines (max $FILE_MAX)"
        bad=1
    fi
    awk -v f="$f" -v max="$FN_MAX" '
        /^[A-Za-z_].*[),]$/ && !/;$/ { sig = $0; start = NR; next }
        /^\{/ && start { open = start; name = sig; next }
        /^\}/ && open {
            len = NR - open + 1
            if (len > max) {
                sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
                printf "%s:%d: %s() %d lines (max %d)\n", f, open, name, len, max
                bad = 1
            }
            open = 0; start = 0
        }
        END { exit bad }' "$f" || bad=1
done
exit $bad
