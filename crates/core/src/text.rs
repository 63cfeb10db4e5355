//! Text handling shared by the parser and the renderers: the matching key
//! (case and punctuation folded away), truncation with a visible marker,
//! markdown escaping of untrusted text, and the shell-safe checks that decide
//! whether a value from the event may be pasted into a command.

use std::borrow::Cow;

/// Lowercase ASCII letters and digits only. AWS's own issue strings vary in
/// case, spacing and punctuation (`EKS Addon Issue`, `EKSAddonIssue`, a
/// documented example with every space stripped), so both the text and the
/// catalog's phrases are compared in this folded form.
pub fn fold(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// If the folded form of `text` starts with `folded_prefix` and the prefix ends
/// on a word boundary in `text`, the byte offset in `text` just after it.
pub fn strip_folded_prefix(text: &str, folded_prefix: &str) -> Option<usize> {
    let mut wanted = folded_prefix.bytes();
    let mut next = wanted.next();
    for (offset, c) in text.char_indices() {
        let Some(expected) = next else {
            // The prefix is consumed: it must not run into another word.
            return (!c.is_ascii_alphanumeric()).then_some(offset);
        };
        if !c.is_ascii_alphanumeric() {
            continue;
        }
        if c.to_ascii_lowercase() as u32 != u32::from(expected) {
            return None;
        }
        next = wanted.next();
    }
    next.is_none().then_some(text.len())
}

/// Truncate to at most `max_bytes` bytes on a char boundary; when anything is
/// cut, end with a marker saying how much.
pub fn truncate_marked(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let marker = format!(" …[truncated {} bytes]", text.len());
    let keep = max_bytes.saturating_sub(marker.len());
    let mut end = keep.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{marker}", &text[..end])
}

fn is_hidden_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Whether any byte may start a control character: C0 and DEL are ASCII, C1
/// (U+0080..U+009F) starts with 0xC2. A cheap pre-check; 0xC2 also starts
/// harmless characters, which only costs the slow path.
fn may_hold_controls(text: &str) -> bool {
    text.bytes()
        .any(|b| is_control_byte(b) && b != b'\n' && b != b'\t')
}

/// Untrusted text made safe to keep: control characters replaced, then cut
/// to `max_bytes` with a visible marker.
pub fn clip(text: &str, max_bytes: usize) -> String {
    truncate_marked(&scrub_controls(text), max_bytes)
}

/// Replace control characters (other than tab and newline) with U+FFFD so that
/// nothing invisible reaches a chat client or a terminal. Borrows clean text.
pub fn scrub_controls(text: &str) -> Cow<'_, str> {
    if !may_hold_controls(text) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if is_hidden_control(c) { '\u{FFFD}' } else { c })
            .collect(),
    )
}

/// Append `text`, replacing each character `replace` maps to something.
/// Ordinary text is copied in runs: only the characters `is_special` flags
/// (ASCII, plus the 0xC2 lead byte of C1 controls) are looked at one by one.
fn push_replacing(
    out: &mut String,
    text: &str,
    is_special: impl Fn(u8) -> bool,
    replace: impl Fn(char) -> Option<char>,
) {
    let bytes = text.as_bytes();
    let mut run_start = 0;
    let mut index = 0;
    while index < bytes.len() {
        if !is_special(bytes[index]) {
            index += 1;
            continue;
        }
        // `index` is a char boundary: special bytes are ASCII or a UTF-8 lead byte.
        let Some(c) = text[index..].chars().next() else {
            break;
        };
        if let Some(replacement) = replace(c) {
            out.push_str(&text[run_start..index]);
            out.push(replacement);
            run_start = index + c.len_utf8();
        }
        index += c.len_utf8();
    }
    out.push_str(&text[run_start..]);
}

fn is_control_byte(b: u8) -> bool {
    b < 0x20 || b == 0x7f || b == 0xc2
}

/// Characters that would let untrusted text escape a code span or block, or
/// be read as a link, mention or entity by a chat client (Slack's `<!here>`,
/// `<url|text>`, `@here`), replaced by look-alikes; the Unicode line and
/// paragraph separators (U+2028, U+2029) become spaces. Chat clients differ in markdown
/// (Slack ignores backslash escapes and longer fences), so untrusted text is
/// only ever rendered inside code, made inert this way.
fn push_inert_code(out: &mut String, text: &str, one_line: bool) {
    push_replacing(
        out,
        text,
        |b| matches!(b, b'`' | b'<' | b'>' | b'&' | b'@') || is_control_byte(b) || b == 0xe2,
        |c| match c {
            '`' => Some('\u{02CB}'),
            '<' => Some('\u{2039}'),
            '>' => Some('\u{203A}'),
            '&' => Some('\u{FF06}'),
            '@' => Some('\u{FF20}'),
            '\u{2028}' | '\u{2029}' => Some(' '),
            '\n' | '\t' if one_line => Some(' '),
            c if is_hidden_control(c) => Some('\u{FFFD}'),
            _ => None,
        },
    );
}

/// Append untrusted text as an inline code span (line breaks become spaces).
pub fn push_code_span(out: &mut String, text: &str) {
    if text.trim().is_empty() {
        out.push_str("`(empty)`");
        return;
    }
    out.push('`');
    push_inert_code(out, text, true);
    out.push('`');
}

/// Untrusted text as an inline code span.
pub fn code_span(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_code_span(&mut out, text);
    out
}

/// Append untrusted text as a fenced code block.
pub fn push_code_block(out: &mut String, text: &str) {
    out.push_str("```\n");
    push_inert_code(out, text, false);
    out.push_str("\n```");
}

/// Untrusted text as a fenced code block.
pub fn code_block(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    push_code_block(&mut out, text);
    out
}

fn find_triple_backtick(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(offset) = bytes[from..].iter().position(|&b| b == b'`') {
        let at = from + offset;
        if bytes[at..].starts_with(b"```") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Append one of our own commands (a catalog template with validated values
/// filled in) as a fenced code block. Only what could close the fence early
/// (three backticks in a row) is broken up; single backticks (JMESPath
/// literals), `&&`, `<placeholders>` and quotes stay copy-pasteable.
pub fn push_command_block(out: &mut String, command: &str) {
    out.push_str("```\n");
    let mut rest = command;
    while let Some(at) = find_triple_backtick(rest) {
        push_replacing(out, &rest[..at], is_control_byte, |c| {
            is_hidden_control(c).then_some('\u{FFFD}')
        });
        out.push_str("`\u{02CB}`");
        rest = &rest[at + 3..];
    }
    push_replacing(out, rest, is_control_byte, |c| {
        is_hidden_control(c).then_some('\u{FFFD}')
    });
    out.push_str("\n```");
}

/// Append a prose sentence that may carry untrusted fragments (error
/// messages, a bad cluster name), made inert for chat markdown: no formatting,
/// link, mention or code markers survive, and it stays on one line.
pub fn push_inert_prose(out: &mut String, text: &str) {
    push_replacing(
        out,
        text,
        |b| {
            matches!(
                b,
                b'`' | b'<' | b'>' | b'&' | b'*' | b'~' | b'[' | b']' | b'@'
            ) || is_control_byte(b)
                || b == 0xe2
        },
        |c| match c {
            '@' => Some('\u{FF20}'),
            '\u{2028}' | '\u{2029}' => Some(' '),
            '`' => Some('\u{02CB}'),
            '<' => Some('\u{2039}'),
            '>' => Some('\u{203A}'),
            '&' => Some('\u{FF06}'),
            '*' => Some('\u{2217}'),
            '~' => Some('\u{223C}'),
            '[' => Some('\u{FF3B}'),
            ']' => Some('\u{FF3D}'),
            '\n' | '\t' => Some(' '),
            c if is_hidden_control(c) => Some('\u{FFFD}'),
            _ => None,
        },
    );
}

/// A prose sentence made inert for chat markdown.
pub fn inert_prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_inert_prose(&mut out, text);
    out
}

/// Printable ASCII only (0x20..=0x7E), runs of anything else collapsed into a
/// single `?`, whitespace runs collapsed into one space.
pub fn printable_ascii(text: &str) -> String {
    let bytes = text.as_bytes();
    let clean = bytes.iter().all(|b| (b' '..=b'~').contains(b))
        && !bytes.windows(2).any(|w| w == b"  ")
        && !text.ends_with(' ')
        && !text.starts_with(' ');
    if clean {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut last_was_space = false;
    let mut last_was_replacement = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !last_was_space && !out.is_empty() {
                out.push(' ');
            }
            last_was_space = true;
            last_was_replacement = false;
        } else if (' '..='~').contains(&c) {
            out.push(c);
            last_was_space = false;
            last_was_replacement = false;
        } else {
            if !last_was_replacement {
                out.push('?');
            }
            last_was_replacement = true;
            last_was_space = false;
        }
    }
    out.trim_end().to_owned()
}

/// Cut printable ASCII text to at most `max_chars`, ending with `...` when cut.
pub fn ascii_ellipsis(text: &str, max_chars: usize) -> String {
    if text.len() <= max_chars {
        return text.to_owned();
    }
    let keep = max_chars.saturating_sub(3);
    format!("{}...", text[..keep].trim_end())
}

/// EKS cluster names: a letter or digit, then letters, digits, `-` and `_`,
/// at most 100 characters. Only such names are pasted into commands.
pub fn is_eks_cluster_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 100
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// AWS region codes such as `us-east-1` or `us-gov-west-1`.
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && region.len() <= 30
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
}

/// Twelve-digit AWS account ids.
pub fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())
}

/// The first `vpc-` id in the text (`vpc-` then 8 or 17 hex digits).
pub fn find_vpc_id(text: &str) -> Option<&str> {
    let mut search_from = 0;
    while let Some(found) = text[search_from..].find("vpc-") {
        let start = search_from + found;
        let hex_len = text[start + 4..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        let boundary_before = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        if boundary_before && (8..=17).contains(&hex_len) {
            return Some(&text[start..start + 4 + hex_len]);
        }
        search_from = start + 4;
    }
    None
}

/// The twelve-digit account id that follows "owner account" in the text.
pub fn find_owner_account_id(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    let after = lower.find("owner account")? + "owner account".len();
    let rest = &text[after..];
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    let digits = &rest[start..];
    let len = digits.chars().take_while(char::is_ascii_digit).count();
    let candidate = &digits[..len];
    is_account_id(candidate).then_some(candidate)
}

/// Length as chat clients count it: UTF-16 code units (what JavaScript's
/// `length` and Slack's limits count). Never less than `chars().count()`,
/// so a limit met in UTF-16 units is met in characters too.
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Cut to at most `max_units` UTF-16 code units on a char boundary, ending
/// with `…` when anything is cut.
pub fn clip_utf16(text: &str, max_units: usize) -> String {
    if utf16_len(text) <= max_units {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len().min(max_units * 3));
    let mut used = 0;
    let keep = max_units.saturating_sub(1);
    for c in text.chars() {
        if used + c.len_utf16() > keep {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    if max_units > 0 {
        out.push('…');
    }
    out
}

/// Whether a character ends a line for some reader: line feed, carriage
/// return, vertical tab, form feed, NEL (U+0085), and the Unicode line and
/// paragraph separators (U+2028, U+2029).
pub fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Untrusted text on one line: every line break becomes a space, so that
/// in a plain-text rendering no untrusted value can start a line of its own.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_line_break) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if is_line_break(c) { ' ' } else { c })
            .collect(),
    )
}

/// Printable ASCII made inert for any chat field that is not markdown we
/// control (keywords, the summary, metadata values): the characters that
/// start a mention, link, entity or formatting (`<>&@*~[]|` and backticks)
/// are replaced, then the text is cut to `max_chars` with `...`.
pub fn inert_ascii(text: &str, max_chars: usize) -> String {
    let cleaned: String = printable_ascii(text)
        .chars()
        .map(|c| match c {
            '<' | '[' => '(',
            '>' | ']' => ')',
            '&' => '+',
            '@' => '?',
            '`' => '\'',
            '*' | '~' => '-',
            '|' => '/',
            c => c,
        })
        .collect();
    ascii_ellipsis(&cleaned, max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_drops_case_space_and_punctuation() {
        assert_eq!(fold("EKS Addon Issue - X"), "eksaddonissuex");
        assert_eq!(fold("EKSAddonIssue"), "eksaddonissue");
    }

    #[test]
    fn folded_prefix_respects_word_boundaries() {
        assert_eq!(strip_folded_prefix("Others: x", "others"), Some(6));
        assert_eq!(strip_folded_prefix("Otherwise", "other"), None);
        assert_eq!(
            strip_folded_prefix("Addon  creation failed", "addoncreationfailed"),
            Some(22)
        );
        assert_eq!(strip_folded_prefix("Add", "addon"), None);
    }

    #[test]
    fn truncation_is_marked_and_bounded() {
        let long = "é".repeat(1000);
        let cut = truncate_marked(&long, 100);
        assert!(cut.len() <= 100, "{}", cut.len());
        assert!(cut.ends_with("[truncated 2000 bytes]"));
        assert_eq!(truncate_marked("short", 100), "short");
    }

    #[test]
    fn code_spans_and_blocks_cannot_be_escaped() {
        let span = code_span("a`b <!channel> [x](y) &amp;\nz");
        assert_eq!(span.matches('`').count(), 2);
        assert!(!span.contains('<') && !span.contains('>') && !span.contains('&'));
        assert!(!span.contains('\n'));
        let block = code_block("```\nbreak out\n```");
        assert_eq!(block.matches("```").count(), 2);
        assert!(block.starts_with("```\n") && block.ends_with("\n```"));
        assert_eq!(code_span(""), "`(empty)`");
        let mut command = String::new();
        push_command_block(&mut command, "aws x --query 'F[?N==`R`]' && a ```b```");
        assert!(
            command.contains("F[?N==`R`]") && command.contains("&& a"),
            "{command}"
        );
        assert_eq!(command.matches("```").count(), 2, "{command}");
        let mut out = String::new();
        push_inert_code(&mut out, "a\u{85}b\u{a0}c é\u{7}", false);
        assert_eq!(out, "a\u{FFFD}b\u{a0}c é\u{FFFD}");
        let prose = inert_prose("*bold* [x](http://e) <!here> `c`\n# h");
        assert!(
            !prose.contains(['*', '[', ']', '<', '>', '`', '\n']),
            "{prose}"
        );
    }

    #[test]
    fn line_breaks_and_mentions_are_neutralized() {
        for hostile in [
            "a\nb",
            "a\rb",
            "a\u{2028}b",
            "a\u{2029}b",
            "a\u{85}b",
            "a\u{0B}b",
        ] {
            assert_eq!(one_line(hostile), "a b", "{hostile:?}");
        }
        assert!(matches!(one_line("plain"), Cow::Borrowed("plain")));
        let span = code_span("@here <!channel> a\u{2028}b");
        assert!(!span.contains('@') && !span.contains('\u{2028}'), "{span}");
        let prose = inert_prose("@here\u{2029}x");
        assert!(
            !prose.contains('@') && !prose.contains('\u{2029}'),
            "{prose}"
        );
        assert_eq!(
            inert_ascii("<!channel> @here [x](y) `z` a|b", 100),
            "(!channel) ?here (x)(y) 'z' a/b"
        );
        assert_eq!(inert_ascii("abcdefgh", 6), "abc...");
    }

    #[test]
    fn utf16_clipping_counts_code_units() {
        assert_eq!(utf16_len("a😀é"), 4);
        assert_eq!(clip_utf16("short", 10), "short");
        let cut = clip_utf16(&"😀".repeat(10), 7);
        assert!(utf16_len(&cut) <= 7, "{cut}");
        assert!(cut.ends_with('…'));
        assert_eq!(clip_utf16("abcdef", 4), "abc…");
    }

    #[test]
    fn printable_ascii_collapses_everything_else() {
        assert_eq!(printable_ascii("a\u{7}\u{8}b\n\tc  d 集群"), "a?b c d ?");
    }

    #[test]
    fn identifier_checks() {
        assert!(is_eks_cluster_name("prod-payments_1"));
        assert!(!is_eks_cluster_name("x; rm -rf /"));
        assert!(!is_eks_cluster_name("-x"));
        assert!(is_region("us-gov-west-1"));
        assert!(is_region("eu-west-1"));
        assert!(!is_region("us-east-1; ls"));
        assert!(is_account_id("111122223333"));
        assert!(!is_account_id("11112222333"));
    }

    #[test]
    fn extracts_vpc_and_owner_ids() {
        assert_eq!(
            find_vpc_id("for shared VPC vpc-0abc1234def567890."),
            Some("vpc-0abc1234def567890")
        );
        assert_eq!(find_vpc_id("myvpc-12345678"), None);
        assert_eq!(
            find_owner_account_id("Owner account ID 555555555555 for shared VPC"),
            Some("555555555555")
        );
    }
}
