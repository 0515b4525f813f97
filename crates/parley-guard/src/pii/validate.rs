//! The checks that turn a digit-shaped candidate into a finding: Luhn and issuer ranges for
//! cards, the issuing rules for SSNs, the country length table and ISO 7064 mod-97 for IBANs.
//! Each takes the candidate with its separators already removed.

/// Luhn (mod 10) over ASCII digits.
pub(crate) fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn prefix(digits: &[u8], n: usize) -> u32 {
    digits
        .iter()
        .take(n)
        .fold(0, |acc, &d| acc * 10 + u32::from(d - b'0'))
}

/// Whether the number starts with a known issuer identification number (IIN) and has a
/// length that issuer uses. Random digit strings that happen to pass Luhn (one in ten) are
/// mostly turned away here.
pub(crate) fn known_card_issuer(digits: &[u8]) -> bool {
    let len = digits.len();
    let p1 = prefix(digits, 1);
    let p2 = prefix(digits, 2);
    let p3 = prefix(digits, 3);
    let p4 = prefix(digits, 4);
    let p6 = prefix(digits, 6);
    let visa = p1 == 4 && matches!(len, 13 | 16 | 19);
    let amex = matches!(p2, 34 | 37) && len == 15;
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16;
    let discover =
        (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622_126..=622_925).contains(&p6))
            && (16..=19).contains(&len);
    let diners = ((300..=305).contains(&p3) || p4 == 3095 || matches!(p2, 36 | 38 | 39))
        && (14..=19).contains(&len);
    let jcb = (3528..=3589).contains(&p4) && (16..=19).contains(&len);
    let unionpay = p2 == 62 && (16..=19).contains(&len);
    let maestro = (matches!(p2, 50 | 56 | 57 | 58 | 63 | 67)
        || matches!(p4, 6304 | 6759 | 6761 | 6762 | 6763))
        && (12..=19).contains(&len);
    let mir = (2200..=2204).contains(&p4) && (16..=19).contains(&len);
    visa || amex || mastercard || discover || diners || jcb || unionpay || maestro || mir
}

/// A payment card number: 13–19 digits, a known issuer, and the Luhn check.
pub(crate) fn card_valid(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len()) && known_card_issuer(digits) && luhn_valid(digits)
}

/// US SSN issuing rules: area not 000, 666 or 900–999; group not 00; serial not 0000.
pub(crate) fn ssn_valid(area: &str, group: &str, serial: &str) -> bool {
    let area_ok = area != "000" && area != "666" && !area.starts_with('9');
    area_ok && group != "00" && serial != "0000"
}

/// IBAN length per country (ISO 13616 registry).
pub(crate) fn iban_length(country: &str) -> Option<usize> {
    Some(match country {
        "NO" => 15,
        "BE" => 16,
        "DK" | "FI" | "FK" | "FO" | "GL" | "NL" | "SD" => 18,
        "MK" | "SI" => 19,
        "AT" | "BA" | "EE" | "KZ" | "LT" | "LU" | "MN" | "XK" => 20,
        "CH" | "HR" | "LI" | "LV" => 21,
        "BG" | "BH" | "CR" | "DE" | "GB" | "GE" | "IE" | "ME" | "RS" | "VA" => 22,
        "AE" | "GI" | "IL" | "IQ" | "OM" | "SO" | "TL" => 23,
        "AD" | "CZ" | "ES" | "MD" | "PK" | "RO" | "SA" | "SE" | "SK" | "TN" | "VG" => 24,
        "LY" | "PT" | "ST" => 25,
        "IS" => 26,
        "BI" | "DJ" | "FR" | "GR" | "IT" | "MC" | "MR" | "SM" => 27,
        "AL" | "AZ" | "BY" | "CY" | "DO" | "GT" | "HU" | "LB" | "NI" | "PL" | "SV" => 28,
        "BR" | "EG" | "PS" | "QA" | "UA" => 29,
        "JO" | "KW" | "MU" | "YE" => 30,
        "MT" | "SC" => 31,
        "LC" => 32,
        "RU" => 33,
        _ => return None,
    })
}

/// ISO 7064 mod-97-10 over an IBAN without spaces, uppercase: the country code and check
/// digits move to the end, letters become 10–35, and the number must leave remainder 1.
pub(crate) fn iban_valid(compact: &str) -> bool {
    let bytes = compact.as_bytes();
    if bytes.len() < 15
        || !bytes.iter().all(u8::is_ascii_alphanumeric)
        || !bytes[..2].iter().all(u8::is_ascii_uppercase)
        || !bytes[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let Some(expected) = compact.get(..2).and_then(iban_length) else {
        return false;
    };
    if bytes.len() != expected {
        return false;
    }
    let mut remainder = 0u32;
    for &b in bytes[4..].iter().chain(&bytes[..4]) {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b.to_ascii_uppercase() - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards() {
        let cases = [
            ("4111111111111111", true),  // Visa test number
            ("4111111111111112", false), // Luhn fails
            ("5500005555555559", true),  // Mastercard
            ("2223003122003222", true),  // Mastercard 2-series
            ("378282246310005", true),   // Amex
            ("6011111111111117", true),  // Discover
            ("3530111333300000", true),  // JCB
            ("30569309025904", true),    // Diners
            ("6200000000000005", true),  // UnionPay
            ("1234567812345670", false), // Luhn-valid, no issuer starts with 1
            ("9999999999999995", false), // no issuer
            ("411111111111", false),     // too short
            ("37828224631000", false),   // Amex prefix, wrong length
        ];
        for (number, want) in cases {
            assert_eq!(card_valid(number.as_bytes()), want, "{number}");
        }
    }

    #[test]
    fn ssns() {
        let cases = [
            (("123", "45", "6789"), true),
            (("000", "45", "6789"), false),
            (("666", "45", "6789"), false),
            (("912", "45", "6789"), false),
            (("123", "00", "6789"), false),
            (("123", "45", "0000"), false),
        ];
        for ((a, g, s), want) in cases {
            assert_eq!(ssn_valid(a, g, s), want, "{a}-{g}-{s}");
        }
    }

    #[test]
    fn ibans() {
        let cases = [
            ("GB82WEST12345698765432", true),
            ("DE89370400440532013000", true),
            ("FR1420041010050500013M02606", true),
            ("NL91ABNA0417164300", true),
            ("BE68539007547034", true),
            ("NO9386011117947", true),
            ("GB82WEST12345698765431", false), // checksum
            ("GB82WEST1234569876543", false),  // length
            ("XX82WEST12345698765432", false), // unknown country
            ("gb82west12345698765432", false), // callers uppercase first
        ];
        for (iban, want) in cases {
            assert_eq!(iban_valid(iban), want, "{iban}");
        }
    }
}
