//! WAL positions (`pg_lsn`): `X/Y` text, compared as 64-bit numbers.

use std::fmt;
use std::str::FromStr;

/// A WAL location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = String;

    fn from_str(s: &str) -> Result<Lsn, String> {
        let (hi, lo) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not an LSN"))?;
        let hi = u32::from_str_radix(hi, 16).map_err(|_| format!("'{s}' is not an LSN"))?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| format!("'{s}' is not an LSN"))?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders() {
        let a: Lsn = "0/16B3748".parse().unwrap();
        let b: Lsn = "1/0".parse().unwrap();
        assert!(a < b);
        assert_eq!(b.0, 1 << 32);
        assert_eq!(a.to_string(), "0/16B3748");
        assert!("16B3748".parse::<Lsn>().is_err());
        assert!("g/1".parse::<Lsn>().is_err());
    }
}
