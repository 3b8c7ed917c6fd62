//! Go (RE2) regular expression syntax, validated with the `regex` crate.
//!
//! Not a check: the helper the L2 interface check uses. Cilium compiles `interfaces[]` with Go's
//! `regexp.Compile`. The `regex` crate's syntax is close to Go's but not equal, so the pattern
//! is first rewritten where the two read the same text differently and valid in both:
//! `\Q...\E` literals and octal escapes (Go only) become plain escapes; `[`, `&&`, `--` and `~~`
//! inside a character class (literal in Go, nesting and set operations in Rust) are escaped; a
//! `{` that does not start a repetition (literal in Go) is escaped. Constructs that Rust accepts
//! and Go rejects are reported: the flags `x`, `u`, `R`; the escapes `\<`, `\>`, `\b{...}`,
//! `\u`, `\U` and other letters Go does not know; repetition counts above 1000; and stacked
//! repetition operators such as `a**`.

/// Checks that `pattern` compiles with Go's `regexp` package. The error is a lower-case reason.
pub fn check(pattern: &str) -> Result<(), String> {
    let translated = translate(pattern)?;
    match regex::RegexBuilder::new(&translated).size_limit(1 << 24).build() {
        Ok(_) => Ok(()),
        // Go has its own, different size limits: a pattern too big for this check is let pass.
        Err(regex::Error::CompiledTooBig(_)) => Ok(()),
        Err(regex::Error::Syntax(message)) => Err(reason(&message)),
        Err(other) => Err(reason(&other.to_string())),
    }
}

/// The one-line reason of a `regex` syntax error (its last `error: ...` line).
fn reason(message: &str) -> String {
    let line = message.lines().rev().find_map(|line| line.trim().strip_prefix("error: ")).unwrap_or_else(|| message.lines().last().unwrap_or(message));
    line.trim().trim_end_matches('.').to_owned()
}

/// Escapes Go accepts after a backslash (outside `\Q...\E`); letters and digits not listed are
/// errors in Go. Punctuation is always a literal.
fn go_escape_letter(c: char) -> bool {
    matches!(c, 'A' | 'b' | 'B' | 'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'p' | 'P' | 'a' | 'f' | 't' | 'n' | 'r' | 'v' | 'x' | 'z')
}

fn is_octal(c: char) -> bool {
    ('0'..='7').contains(&c)
}

/// Parses a Go repetition `{n}`, `{n,}` or `{n,m}` starting at `chars[start] == '{'`. Returns
/// the index after `}` and the counts, or `None` when the text is not a repetition (Go then
/// reads `{` as a literal).
fn parse_repeat(chars: &[char], start: usize) -> Option<(usize, u64, Option<u64>)> {
    let mut index = start + 1;
    let number = |index: &mut usize| -> Option<u64> {
        let begin = *index;
        while *index < chars.len() && chars[*index].is_ascii_digit() {
            *index += 1;
        }
        if *index == begin {
            return None;
        }
        let text: String = chars[begin..*index].iter().collect();
        Some(text.parse().unwrap_or(u64::MAX))
    };
    let min = number(&mut index)?;
    let max = if chars.get(index) == Some(&',') {
        index += 1;
        if chars.get(index) == Some(&'}') { None } else { Some(number(&mut index)?) }
    } else {
        Some(min)
    };
    if chars.get(index) != Some(&'}') {
        return None;
    }
    Some((index + 1, min, max))
}

/// Handles a backslash escape at `chars[index] == '\\'`; pushes its Rust spelling and returns
/// the index after it.
fn translate_escape(chars: &[char], index: usize, in_class: bool, out: &mut String) -> Result<usize, String> {
    let Some(&next) = chars.get(index + 1) else {
        // A trailing backslash: let the regex crate report it.
        out.push('\\');
        return Ok(index + 1);
    };
    if next.is_ascii_digit() {
        // Go: `\0`, or up to three octal digits; a lone `\1`..`\7` is a backreference.
        let digits: String = chars[index + 1..].iter().take(3).take_while(|c| is_octal(**c)).collect();
        if digits.is_empty() || (next != '0' && digits.len() == 1) {
            return Err(format!("invalid escape sequence `\\{next}` (backreferences are not supported)"));
        }
        let value = u32::from_str_radix(&digits, 8).unwrap_or(0);
        out.push_str(&format!("\\x{{{value:X}}}"));
        return Ok(index + 1 + digits.chars().count());
    }
    if next.is_ascii_alphabetic() && !go_escape_letter(next) {
        return Err(format!("invalid escape sequence `\\{next}`"));
    }
    if matches!(next, '<' | '>') {
        return Err(format!("invalid escape sequence `\\{next}`"));
    }
    if matches!(next, 'b' | 'B') && chars.get(index + 2) == Some(&'{') {
        return Err(format!("invalid escape sequence `\\{next}{{`"));
    }
    if in_class && matches!(next, 'b' | 'B' | 'A' | 'z') {
        return Err(format!("invalid escape sequence `\\{next}` inside a character class"));
    }
    if matches!(next, 'p' | 'P') && chars.get(index + 2) == Some(&'{') {
        let name: String = chars[index + 3..].iter().take_while(|c| **c != '}').collect();
        if name.contains(['=', ':']) {
            return Err(format!("invalid character class range `\\{next}{{{name}}}`"));
        }
    }
    out.push('\\');
    out.push(next);
    // `\p{Name}` and `\x{10FFFF}`: copy the braces too, so that `{` is not read as a repetition.
    if matches!(next, 'p' | 'P' | 'x') && chars.get(index + 2) == Some(&'{') {
        let body: String = chars[index + 2..].iter().take_while(|c| **c != '}').collect();
        out.push_str(&body);
        let consumed = body.chars().count();
        if chars.get(index + 2 + consumed) == Some(&'}') {
            out.push('}');
            return Ok(index + 3 + consumed);
        }
        return Ok(index + 2 + consumed);
    }
    Ok(index + 2)
}

/// Rewrites a Go pattern into the regex crate's syntax, or says why Go rejects it.
fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut index = 0;
    // Whether the previous item is a repetition (Go forbids stacking them).
    let mut after_repeat = false;
    while index < chars.len() {
        let c = chars[index];
        match c {
            '\\' if chars.get(index + 1) == Some(&'Q') => {
                let rest: String = chars[index + 2..].iter().collect();
                let (literal, consumed) = match rest.find("\\E") {
                    Some(end) => (rest[..end].to_owned(), end + 2),
                    None => (rest.clone(), rest.len()),
                };
                out.push_str(&regex::escape(&literal));
                index += 2 + rest[..consumed].chars().count();
                after_repeat = false;
            }
            '\\' => {
                index = translate_escape(&chars, index, false, &mut out)?;
                after_repeat = false;
            }
            '[' => {
                index = translate_class(&chars, index, &mut out)?;
                after_repeat = false;
            }
            '(' => {
                if chars.get(index + 1) == Some(&'?') {
                    let flags: String = chars[index + 2..].iter().take_while(|c| !matches!(c, ')' | ':')).collect();
                    let is_name = flags.starts_with('P') || flags.starts_with('<');
                    if !is_name && let Some(bad) = flags.chars().find(|f| !matches!(f, 'i' | 'm' | 's' | 'U' | '-')) {
                        return Err(format!("invalid or unsupported flag `{bad}` in `(?{flags}`"));
                    }
                }
                out.push('(');
                index += 1;
                after_repeat = false;
            }
            '*' | '+' | '?' => {
                if after_repeat {
                    return Err(format!("invalid nested repetition operator `{c}`"));
                }
                out.push(c);
                index += 1;
                if chars.get(index) == Some(&'?') {
                    out.push('?');
                    index += 1;
                }
                after_repeat = true;
            }
            '{' => match parse_repeat(&chars, index) {
                Some((end, min, max)) => {
                    if min > 1000 || max.is_some_and(|max| max > 1000) {
                        let text: String = chars[index..end].iter().collect();
                        return Err(format!("invalid repeat count `{text}` (at most 1000)"));
                    }
                    if after_repeat {
                        return Err("invalid nested repetition operator `{`".to_owned());
                    }
                    out.extend(&chars[index..end]);
                    index = end;
                    if chars.get(index) == Some(&'?') {
                        out.push('?');
                        index += 1;
                    }
                    after_repeat = true;
                }
                None => {
                    out.push_str("\\{");
                    index += 1;
                    after_repeat = false;
                }
            },
            _ => {
                out.push(c);
                index += 1;
                after_repeat = false;
            }
        }
    }
    Ok(out)
}

/// Translates a character class starting at `chars[start] == '['`; returns the index after it.
fn translate_class(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    out.push('[');
    let mut index = start + 1;
    if chars.get(index) == Some(&'^') {
        out.push('^');
        index += 1;
    }
    // A `]` right after the opening (and `^`) is a literal in both dialects.
    if chars.get(index) == Some(&']') {
        out.push_str("\\]");
        index += 1;
    }
    while index < chars.len() {
        let c = chars[index];
        match c {
            ']' => {
                out.push(']');
                return Ok(index + 1);
            }
            '[' if chars.get(index + 1) == Some(&':') => {
                // A POSIX class `[:alpha:]`, the same in both dialects.
                let rest: String = chars[index..].iter().collect();
                match rest.find(":]") {
                    Some(end) => {
                        out.push_str(&rest[..end + 2]);
                        index += rest[..end + 2].chars().count();
                    }
                    None => {
                        out.push_str("\\[");
                        index += 1;
                    }
                }
            }
            '[' => {
                out.push_str("\\[");
                index += 1;
            }
            '\\' => index = translate_escape(chars, index, true, out)?,
            '&' | '~' => {
                out.push('\\');
                out.push(c);
                index += 1;
            }
            '-' if chars.get(index + 1) == Some(&'-') => {
                out.push_str("-\\-");
                index += 2;
            }
            _ => {
                out.push(c);
                index += 1;
            }
        }
    }
    // Unclosed: the regex crate reports it.
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn patterns_go_accepts() {
        for pattern in [
            "^eth[0-9]+",
            "^(eth|ens|enp)[0-9a-z]*$",
            "eth0",
            "",
            "^bond\\d+\\.\\d+$",
            "\\Qeth0.100\\E",
            "[[:alpha:]]+[0-9]",
            "[]a]",
            "[a&&b]",
            "[+--]",
            "x{2,5}?",
            "a{1000}",
            "a{,3}",
            "a{x}",
            "(?i)ETH0",
            "(?P<name>eth)\\d",
            "(?<name>eth)\\d",
            "\\101",
            "\\0",
            "\\pL+",
            "\\p{Greek}",
            "\\x{41}+",
            "a*?",
            "[\\d\\-]",
        ] {
            assert_eq!(check(pattern), Ok(()), "{pattern}");
        }
    }

    #[test]
    fn patterns_go_rejects() {
        for (pattern, reason) in [
            ("*", "repetition operator missing expression"),
            ("eth[0-9", "unclosed character class"),
            ("(eth", "unclosed group"),
            ("a**", "invalid nested repetition operator `*`"),
            ("a{2}{3}", "invalid nested repetition operator `{`"),
            ("a*??", "invalid nested repetition operator `?`"),
            ("a{1001}", "invalid repeat count `{1001}` (at most 1000)"),
            ("(?x)eth", "invalid or unsupported flag `x` in `(?x`"),
            ("\\<eth", "invalid escape sequence `\\<`"),
            ("\\beth\\b{end}", "invalid escape sequence `\\b{`"),
            ("\\u0041", "invalid escape sequence `\\u`"),
            ("\\e", "invalid escape sequence `\\e`"),
            ("\\1", "invalid escape sequence `\\1` (backreferences are not supported)"),
            ("(?=eth)", "invalid or unsupported flag `=` in `(?=eth`"),
        ] {
            let found = check(pattern);
            assert!(found.is_err(), "{pattern} should be rejected");
            assert_eq!(found.unwrap_err(), reason, "{pattern}");
        }
    }
}
