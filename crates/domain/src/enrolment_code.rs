//! One-time enrolment codes: how a migration-centre operator enrols a
//! person whose card they have checked in person (DESIGN.md: enrolment is
//! self-service in the app, or assisted at a migration centre).
//!
//! The operator's screen shows the code as a QR code (a link to the app
//! with `#code=…`, which the phone's camera opens) and as text to type.
//! So the code must survive being read aloud and typed on a cheap phone:
//! ten characters of Crockford's base 32 (digits and letters without I, L,
//! O, U), shown as `XXXXX-XXXXX`, read back case-insensitively with the
//! look-alikes folded (`O` → `0`, `I`/`L` → `1`) and separators ignored.
//!
//! Ten symbols are 50 bits. A code lives ten minutes (configurable) and
//! works once, so even a thousand codes outstanding at once leave an
//! attacker guessing at a thousand requests a second a chance of about
//! 5 × 10⁻⁷ per code lifetime. Only a hash of the code is stored.
//!
//! Randomness comes in as bytes: this crate does not read the system's
//! random source, as it does not read the clock.

use std::fmt;

/// Crockford's base-32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Symbols in a code.
pub const CODE_LEN: usize = 10;

/// Random bytes needed to make a code (50 bits used of 56).
pub const RANDOM_BYTES: usize = 7;

/// An enrolment code in its canonical form (10 symbols, no separator).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EnrolmentCode(String);

/// Why a typed or scanned code cannot be a code at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an enrolment code is 10 letters and digits, e.g. 7KQ2M-9XH4D")]
pub struct MalformedCode;

impl MalformedCode {
    pub fn code(&self) -> &'static str {
        "invalid_enrolment_code"
    }
}

impl EnrolmentCode {
    /// What [`EnrolmentCode::parse`] accepts, as a regular expression (for
    /// the API description): ten symbols of the alphabet in either case,
    /// `O`, `I` and `L` read as `0`, `1`, `1` (so every letter but `U`),
    /// with spaces, tabs and dashes anywhere.
    pub const PATTERN: &'static str = "^[ \\t-]*(?:[0-9A-TV-Za-tv-z][ \\t-]*){10}$";

    /// A code from random bytes.
    pub fn from_random(bytes: [u8; RANDOM_BYTES]) -> Self {
        let mut n = 0u64;
        for b in bytes {
            n = (n << 8) | u64::from(b);
        }
        let mut s = String::with_capacity(CODE_LEN);
        for i in (0..CODE_LEN).rev() {
            s.push(char::from(ALPHABET[((n >> (5 * i)) & 31) as usize]));
        }
        EnrolmentCode(s)
    }

    /// Read a code as a person typed it or a QR link carried it.
    pub fn parse(raw: &str) -> Result<Self, MalformedCode> {
        let mut s = String::with_capacity(CODE_LEN);
        for c in raw.chars() {
            let c = match c.to_ascii_uppercase() {
                ' ' | '-' | '\t' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || s.len() == CODE_LEN {
                return Err(MalformedCode);
            }
            s.push(c);
        }
        if s.len() != CODE_LEN {
            return Err(MalformedCode);
        }
        Ok(EnrolmentCode(s))
    }

    /// The canonical form, which is what is hashed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form to show and read aloud: `XXXXX-XXXXX`.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..5], &self.0[5..])
    }
}

/// Never print a live code by accident (logs, panics): only its length.
impl fmt::Debug for EnrolmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnrolmentCode(<{} symbols>)", self.0.len())
    }
}

/// Why a code cannot be used. Each leaves everything unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefusal {
    #[error("this enrolment code is unknown; check it or ask the operator for a new one")]
    Unknown,
    #[error("this enrolment code has expired; ask the operator for a new one")]
    Expired,
    #[error("this enrolment code has already been used")]
    Used,
    #[error("a newer enrolment code was issued for this card; use that one")]
    Superseded,
}

impl CodeRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            CodeRefusal::Unknown => "enrolment_code_unknown",
            CodeRefusal::Expired => "enrolment_code_expired",
            CodeRefusal::Used => "enrolment_code_used",
            CodeRefusal::Superseded => "enrolment_code_superseded",
        }
    }
}

/// Whether a stored code can be used at `now` (instants as milliseconds or
/// any other ordered representation). Order of checks: used beats
/// superseded beats expired, so the person hears the most useful reason.
pub fn check_code<T: PartialOrd>(
    expires_at: T,
    used: bool,
    superseded: bool,
    now: T,
) -> Result<(), CodeRefusal> {
    if used {
        Err(CodeRefusal::Used)
    } else if superseded {
        Err(CodeRefusal::Superseded)
    } else if now > expires_at {
        Err(CodeRefusal::Expired)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_display_and_typing() {
        let c = EnrolmentCode::from_random([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]);
        assert_eq!(c.as_str().len(), CODE_LEN);
        let shown = c.display();
        assert_eq!(shown.len(), 11);
        assert_eq!(&shown[5..6], "-");
        assert_eq!(EnrolmentCode::parse(&shown).unwrap(), c);
        assert_eq!(EnrolmentCode::parse(&shown.to_lowercase()).unwrap(), c);
        assert_eq!(
            EnrolmentCode::parse(&format!(" {} ", c.as_str())).unwrap(),
            c
        );
        // All zeros and all ones map to the ends of the alphabet.
        assert_eq!(EnrolmentCode::from_random([0; 7]).as_str(), "0000000000");
        assert_eq!(EnrolmentCode::from_random([0xff; 7]).as_str(), "ZZZZZZZZZZ");
        assert!(!format!("{c:?}").contains(c.as_str()));
    }

    #[test]
    fn look_alikes_fold_and_junk_is_refused() {
        assert_eq!(
            EnrolmentCode::parse("oooii-LLLLO").unwrap().as_str(),
            "0001111110"
        );
        for bad in [
            "",
            "ABCDE",
            "ABCDE-FGHJK-M",
            "ABCDE-FGHJU",
            "ABCDE_FGHJK",
            "АБВГД-ЕЖЗИК",
        ] {
            assert_eq!(EnrolmentCode::parse(bad), Err(MalformedCode), "{bad}");
        }
    }

    #[test]
    fn a_code_works_once_and_only_until_it_expires() {
        assert_eq!(check_code(10, false, false, 10), Ok(()));
        assert_eq!(check_code(10, false, false, 11), Err(CodeRefusal::Expired));
        assert_eq!(check_code(10, true, false, 5), Err(CodeRefusal::Used));
        assert_eq!(check_code(10, true, true, 50), Err(CodeRefusal::Used));
        assert_eq!(
            check_code(10, false, true, 50),
            Err(CodeRefusal::Superseded)
        );
        assert_eq!(CodeRefusal::Expired.code(), "enrolment_code_expired");
    }
}
