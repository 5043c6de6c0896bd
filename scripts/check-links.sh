#!/usr/bin/env bash
# Checks that every relative link in the repository's Markdown files points at a file or folder
# that exists (anchors are not checked), and that no document cites a file outside the repository.
# Prints each broken link as FILE: LINK and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
    dir=$(dirname "$file")
    while IFS= read -r link; do
        target=${link%%#*}
        [[ -z "$target" || "$target" =~ ^[a-z]+: ]] && continue
        resolved=$(realpath -m "$dir/$target")
        if [[ "$resolved" != "$PWD"* ]]; then
            echo "$file: $link (outside the repository)"; status=1
        elif [[ ! -e "$resolved" ]]; then
            echo "$file: $link (no such file)"; status=1
        fi
    done < <(grep -oE '\]\([^) ]+\)' "$file" | sed -E 's/^\]\(//; s/\)$//')
done < <(git ls-files '*.md')
if grep -rnE '\.\./shared|DESIGN\.md' --include='*.md' --include='*.swift' --include='*.sh' . --exclude-dir=.build --exclude-dir='.build-*' | grep -v "^./scripts/check-links.sh"; then
    echo "the lines above cite a document outside the repository"; status=1
fi
exit "$status"
