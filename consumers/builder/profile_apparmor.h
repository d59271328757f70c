/* AppArmor profile generator: turns the merged behavior of a modeling run into
 * the deny-by-default profile text of the seed's layout (vArmor's
 * defenseInDepthTemplate filled by GenerateProfileWithBehaviorModel). */
#ifndef ARMORSMITH_PROFILE_APPARMOR_H
#define ARMORSMITH_PROFILE_APPARMOR_H

#include "behavior.h"

#include <stddef.h>

/*
 * Writes the profile text to *out_text (caller frees with free()). Layout,
 * byte for byte as vArmor emits it (internal/profile/apparmor/builder.go and
 * template.go): the text starts with "\n" (the blank line the seed shows
 * right after the kubectl command), then "## == Managed by vArmor == ##",
 * the abi and tunables lines, the profile line, "  #include
 * <abstractions/base>", and the sections EXEC, FILE, CAPABILITY, NETWORK,
 * PTRACE, SIGNAL, ADDITIONAL, each preceded by a blank line, and ends with
 * "\n}\n". Every section header is written even when it has no rule, as
 * vArmor does. Rules of a section are sorted by their full text (byte order),
 * as vArmor's sort.Strings does, and duplicates are dropped.
 *
 *  EXEC        "  PATH ix," per m->execs.
 *  FILE        "  [owner ]PATH PERMS," per m->files. PERMS are the letters of
 *              r w a l k m, sorted, 'a' dropped when 'w' is present (as
 *              vArmor). Exec letters (x i p u c P U C) are dropped: execution
 *              is granted only by EXEC. A rule left with no letter is skipped.
 *  CAPABILITY  "  capability NAME," per m->capabilities; NAME must be a
 *              lowercase capability(7) name without "cap_".
 *  NETWORK     the fixed "  network," (vArmor outside debug mode).
 *  PTRACE      the fixed docker-default comment and peer rule.
 *  SIGNAL      the fixed docker-default comments and peer rules. Observed
 *              ptraces/signals/networks shape no rule, as in vArmor outside
 *              debug mode.
 *  ADDITIONAL  the fixed "  umount,", then, sorted, one rule per m->mounts
 *              entry (vArmor has none; ours come from AppArmor mount events):
 *                mount      "  mount[ fstype=T][ options=(F,...)][ SOURCE] -> PATH,"
 *                remount    "  remount[ options=(F,...)] PATH,"
 *                pivot_root "  pivot_root[ oldroot=SOURCE] PATH,"  (PATH = new root)
 *                umount     no rule: the fixed "umount," already allows it.
 *              T must match [A-Za-z0-9._+-]+; flags are the comma separated
 *              AppArmor mount options of apparmor.d(5), sorted and unique.
 *
 * Deliberate improvement over vArmor (which prints paths verbatim): a path
 * is written bare only when every byte is in [A-Za-z0-9/._+~:@%=-] or is a
 * glob '*' or '**' that makes up a whole path segment (between two slashes
 * or after the last one) — the only globs the path normaliser produces; a
 * '*' anywhere else is literal. Any other path
 * is double-quoted with every metacharacter escaped so it matches only its
 * literal name and can never end the rule or start another one: '"' and
 * the AARE characters * ? [ ] { } ^ get a backslash (escaping '{' also
 * stops "@{VAR}" expansion), '\', control bytes, DEL and bytes >= 0x80
 * become three-digit octal escapes (\012 for a newline; \134 for a
 * backslash, since with \\ a name ending in one would end in \\" and the
 * parser's lexer takes that \" for a quote inside the string). So the
 * file name
 * "/tmp/x, /<star><star> rwx,<newline>" becomes the one rule
 * "/tmp/x, /\*\* rwx,\012" PERMS, (profile_apparmor_test.c checks it).
 * A mount source that does not start with '/' is written bare only when
 * it is made of [A-Za-z0-9._-] (in the parser's mount mode "fstype=x" as a
 * bare source would be the condition fstype=x). Paths (and mount points)
 * must start with '/'.
 *
 * The profile name must match [A-Za-z0-9][A-Za-z0-9._-]* (at most 255
 * bytes): it is printed bare in the profile line and in peer= rules.
 *
 * Returns 0, -EINVAL for an invalid profile name, path, permission letter,
 * capability, mount operation, fstype or mount flag (logged with the
 * offending value), or -ENOMEM.
 */
int profile_apparmor_generate(const struct behavior_model *m, char **out_text);
/* The same, but a rule that cannot be written safely (unknown capability or
 * mount flag, a path that is not absolute, ...) is left out and counted in
 * *skipped instead of failing the profile: one odd behavior must not cost a
 * run its whole profile. The builder uses this and reports the count. */
int profile_apparmor_generate_ex(const struct behavior_model *m, char **out_text, size_t *skipped);

#endif
