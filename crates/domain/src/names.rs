//! Name matching across scripts and transliterations.
//!
//! Officers type a name the way they heard or read it: "Алишер Каримов" from
//! a card, "Alisher Qarimov" from an Uzbek Latin document, "Karimov" from a
//! patent. The registry holds a Latin and a Cyrillic spelling. To find all of
//! them, every name (both spellings on the card, and the officer's query) is
//! reduced to one Latin *skeleton*, and a query matches when each of its
//! words is a prefix of a word of the skeleton.
//!
//! The scheme (documented in docs/console.md):
//! 1. lower case; Cyrillic letters (Russian plus the Uzbek, Tajik and Kyrgyz
//!    letters) to Latin by a fixed table (ж, дж → j; х, ҳ → h; ц → c;
//!    ч → ch; ш, щ → sh; ы → i; ъ, ь dropped; ю → yu; я → ya; қ → k; ғ → g;
//!    ў, ө → o; ү, ӯ → u; ң → n; ӣ → i);
//! 2. Latin letters with diacritics to their base letter, apostrophes
//!    (o‘, g‘, Ma'ruf) dropped;
//! 3. spelling variants folded: kh, x → h; q → k; zh, dzh, dj → j; ts, tz → c;
//!    w → v; y → i; then ie → e (Каримов/Xojayev-style "ev"/"yev"); ou → u;
//!    any doubled letter → one;
//! 4. what is left outside a–z separates words.
//!
//! So Каримов, Karimov and Qarimov all become `karimov`; Алишер and Alisher
//! become `alisher`; Рахимов and Rakhimov become `rahimov`; Юсуф, Yusuf and
//! Iusuf become `iusuf`. The folding is deliberately coarse (it may match a
//! few more people than an exact spelling would): the officer sees the card
//! number and both spellings in every result.

/// The skeleton words of a name, in order, duplicates kept.
pub fn skeleton_words(name: &str) -> Vec<String> {
    let mut latin = String::with_capacity(name.len() + 8);
    for c in name.chars().flat_map(char::to_lowercase) {
        match cyrillic(c) {
            Some(s) => latin.push_str(s),
            None => match base_latin(c) {
                Some(b) => latin.push(b),
                // Apostrophes and modifier letters inside a word are dropped.
                None if matches!(c, '\'' | '‘' | '’' | 'ʻ' | 'ʼ' | '`' | '´') => {}
                None => latin.push(' '),
            },
        }
    }
    latin
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(fold)
        .filter(|w| !w.is_empty())
        .collect()
}

/// The skeleton of a whole name as stored for search: its words separated
/// and surrounded by single spaces (" alisher karimov "), so that a word
/// prefix is found with `LIKE '% prefix%'`.
pub fn skeleton(names: &[&str]) -> String {
    let mut words: Vec<String> = Vec::new();
    for n in names {
        for w in skeleton_words(n) {
            if !words.contains(&w) {
                words.push(w);
            }
        }
    }
    let mut s = String::from(" ");
    for w in words {
        s.push_str(&w);
        s.push(' ');
    }
    s
}

fn cyrillic(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' | 'ғ' | 'ґ' => "g",
        'д' => "d",
        'е' | 'ё' | 'э' | 'є' => "e",
        'ж' | 'ҷ' => "j",
        'з' => "z",
        'и' | 'ӣ' | 'і' | 'ы' => "i",
        'й' | 'ї' => "y",
        'к' | 'қ' => "k",
        'л' => "l",
        'м' => "m",
        'н' | 'ң' => "n",
        'о' | 'ў' | 'ө' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' | 'ӯ' | 'ү' => "u",
        'ф' => "f",
        'х' | 'ҳ' | 'һ' => "h",
        'ц' => "c",
        'ч' | 'ҹ' => "ch",
        'ш' | 'щ' => "sh",
        'ъ' | 'ь' => "",
        'ю' => "yu",
        'я' => "ya",
        _ => return None,
    })
}

/// A Latin letter (possibly with a diacritic) or digit as its base letter.
fn base_latin(c: char) -> Option<char> {
    if c.is_ascii_lowercase() || c.is_ascii_digit() {
        return Some(c);
    }
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ə' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ğ' | 'ġ' => 'g',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' | 'į' => 'i',
        'ñ' | 'ń' | 'ň' | 'ņ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ō' | 'ő' | 'ø' => 'o',
        'ś' | 'š' | 'ş' => 's',
        'ț' | 'ţ' | 'ť' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ž' | 'ź' | 'ż' => 'z',
        _ => return None,
    })
}

/// Fold spelling variants of one lower-case a–z word.
fn fold(word: &str) -> String {
    let mut s = word.to_string();
    // Longest patterns first: "dzh" before "zh", "kh" before "h" rules.
    for (from, to) in [
        ("dzh", "j"),
        ("dj", "j"),
        ("zh", "j"),
        ("kh", "h"),
        ("x", "h"),
        ("q", "k"),
        ("ts", "c"),
        ("tz", "c"),
        ("w", "v"),
        ("ou", "u"),
        ("y", "i"),
        ("ie", "e"),
    ] {
        s = s.replace(from, to);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str) -> String {
        skeleton_words(name).join(" ")
    }

    #[test]
    fn cyrillic_and_latin_spellings_meet() {
        for (a, b) in [
            ("Алишер", "Alisher"),
            ("Каримов", "Karimov"),
            ("Каримов", "Qarimov"),
            ("Рахимов", "Rakhimov"),
            ("Рахимов", "Rahimov"),
            ("Фаррух", "Farrukh"),
            ("Фаррух", "Farukh"),
            ("Юсуф", "Yusuf"),
            ("Юсуф", "Iusuf"),
            ("Джамшид", "Jamshid"),
            ("Джамшид", "Djamshid"),
            ("Джамшид", "Dzhamshid"),
            ("Ходжаев", "Xojayev"),
            ("Ходжаев", "Khodzhaev"),
            ("Цой", "Tsoi"),
            ("Ўткир", "O‘tkir"),
            ("Ғайрат", "G'ayrat"),
            ("Токтогулов", "Toktogulov"),
            ("Мухаммад", "Muhammad"),
            ("Мухаммад", "Mukhammad"),
        ] {
            assert_eq!(one(a), one(b), "{a} vs {b}");
        }
    }

    #[test]
    fn different_names_stay_apart() {
        assert_ne!(one("Каримов"), one("Рахимов"));
        assert_ne!(one("Alisher"), one("Aibek"));
    }

    #[test]
    fn skeleton_has_every_word_once_between_spaces() {
        assert_eq!(
            skeleton(&["Alisher Karimov", "Алишер Каримов"]),
            " alisher karimov "
        );
        assert_eq!(skeleton(&["", "  "]), " ");
        // Punctuation separates words; digits are kept.
        assert_eq!(one("Ibn-Sino, 2"), "ibn sino 2");
    }
}
