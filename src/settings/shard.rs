//! `--shard K/N`: this runner's share of the databases, so that N runners (a Kubernetes Indexed
//! Job's pods) migrate each database exactly once between them. Each database goes to the shard
//! that scores highest for it (rendezvous hashing of its identity, the URL without its
//! password): stable, and a database keeps its shard when others are added. Pure.

use sha2::{Digest, Sha256};

/// Which share of the databases this runner takes: `index` of `count`, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Reads `K/N` (K from 0 to N-1).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| "expected K/N, such as 0/4".to_string())?;
        let index: u32 = k
            .trim()
            .parse()
            .map_err(|_| format!("'{k}' is no shard number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("'{n}' is no number of shards"))?;
        Shard::new(index, count)
    }

    /// Shard `index` of `count`.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("the number of shards must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard {index} of {count}: shards count from 0 to {}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether the database of this identity is this runner's.
    pub fn takes(&self, identity: &str) -> bool {
        owner(identity, self.count) == self.index
    }
}

/// The shard a database of this identity goes to, among `count`.
pub fn owner(identity: &str, count: u32) -> u32 {
    (0..count)
        .max_by_key(|i| {
            let d = Sha256::digest(format!("{identity}\0{i}"));
            u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        assert!(Shard::parse("4/4").unwrap_err().contains("from 0 to 3"));
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("one/4").is_err());
        assert!(Shard::parse("2").is_err());
    }

    #[test]
    fn every_database_goes_to_exactly_one_shard_and_stays_there() {
        let dbs: Vec<String> = (0..1000)
            .map(|i| format!("sqlite:/data/tenant{i}.db"))
            .collect();
        for n in [1, 2, 3, 4, 7] {
            let mut counts = vec![0; n as usize];
            for d in &dbs {
                let taken: Vec<u32> = (0..n)
                    .filter(|&k| Shard::new(k, n).unwrap().takes(d))
                    .collect();
                assert_eq!(taken.len(), 1, "{d} in {n}");
                counts[taken[0] as usize] += 1;
            }
            // Spread: no shard holds less than half its share.
            assert!(
                counts.iter().all(|&c| c * n as usize * 2 >= dbs.len()),
                "{counts:?}"
            );
        }
        // Adding databases moves none of the others.
        let before: Vec<u32> = dbs.iter().map(|d| owner(d, 4)).collect();
        let more: Vec<String> = (0..1100)
            .map(|i| format!("sqlite:/data/tenant{i}.db"))
            .collect();
        let after: Vec<u32> = more[..1000].iter().map(|d| owner(d, 4)).collect();
        assert_eq!(before, after);
    }
}
