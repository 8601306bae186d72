//! The address interner: each address stored once, shared by the id table
//! and the effects that name it, and counted: each record that stores an id
//! holds it, and an id nothing holds is freed for reuse. Releases take
//! effect at [`Names::collect`], at the end of each engine call, so an id
//! stays valid for the whole call that released it.
//!
//! The table is keyed by an address's parts (local part, domain), so that a
//! stored address in its plain text form is found without building an
//! `Address` first: a restart looks up every subscription's target this
//! way, and builds only the addresses it has not seen yet.

use std::hash::BuildHasher;
use std::sync::Arc;

use cpim_formats::uri::Address;
use hashbrown::HashTable;

use super::Id;

#[derive(Debug, Default)]
pub(super) struct Names {
    by_id: Vec<Arc<Address>>,
    holds: Vec<u32>,
    /// Ids with the hash of their address's parts: the table grows, and
    /// tells most non-matches apart, without reading the addresses.
    table: HashTable<Slot>,
    /// The engine's own keys: a fast hash suffices (addresses are not chosen
    /// by anyone to collide in a table whose seed they cannot see).
    hasher: foldhash::fast::RandomState,
    free: Vec<Id>,
    released: Vec<Id>,
}

impl Names {
    /// The id of `address`, interned if new, with one more hold.
    pub(super) fn retain(&mut self, address: &Address) -> Id {
        let hash = self.hash(address.local(), address.domain());
        match self.find(hash, address.local(), address.domain()) {
            Some(id) => {
                self.retain_id(id);
                id
            }
            None => self.insert(hash, Arc::new(address.clone())),
        }
    }

    /// Like `retain`, taking the address to keep when it is new.
    pub(super) fn retain_owned(&mut self, address: Address) -> Id {
        let hash = self.hash(address.local(), address.domain());
        match self.find(hash, address.local(), address.domain()) {
            Some(id) => {
                self.retain_id(id);
                id
            }
            None => self.insert(hash, Arc::new(address)),
        }
    }

    /// Like `retain`, for an address in its stored text form: the plain
    /// form (`local@domain`, as [`Address::from_canonical`] reads it) is
    /// found without building an address; `parse` builds one when it is
    /// new or written otherwise.
    pub(super) fn retain_text<E>(
        &mut self,
        text: &str,
        parse: impl FnOnce(&str) -> Result<Address, E>,
    ) -> Result<Id, E> {
        if let Some((local, domain)) = plain_parts(text) {
            let hash = self.hash(local, domain);
            if let Some(id) = self.find(hash, local, domain) {
                self.retain_id(id);
                return Ok(id);
            }
            let address = parse(text)?;
            if address.local() == local && address.domain() == domain {
                return Ok(self.insert(hash, Arc::new(address)));
            }
            return Ok(self.retain_owned(address));
        }
        Ok(self.retain_owned(parse(text)?))
    }

    /// A new id for `address` (not interned yet, its parts hashing to
    /// `hash`), with one hold.
    fn insert(&mut self, hash: u32, address: Arc<Address>) -> Id {
        let id = match self.free.pop() {
            Some(id) => {
                self.by_id[id as usize] = address;
                id
            }
            None => {
                // Ids index `by_id`; 2^32 addresses would not fit in memory.
                self.by_id.push(address);
                self.holds.push(0);
                (self.by_id.len() - 1) as Id
            }
        };
        self.table
            .insert_unique(widen(hash), Slot { id, hash }, Slot::rehash);
        self.retain_id(id);
        id
    }

    pub(super) fn reserve(&mut self, n: usize) {
        self.by_id.reserve(n);
        self.holds.reserve(n);
        self.table.reserve(n, Slot::rehash);
    }

    pub(super) fn retain_id(&mut self, id: Id) {
        self.holds[id as usize] += 1;
    }

    /// Drops one hold, at the next `collect`.
    pub(super) fn release(&mut self, id: Id) {
        self.released.push(id);
    }

    pub(super) fn collect(&mut self) {
        for id in std::mem::take(&mut self.released) {
            let holds = &mut self.holds[id as usize];
            if *holds == 0 {
                // Never free an id twice: two addresses would share it.
                continue;
            }
            *holds -= 1;
            if *holds == 0 {
                let a = &self.by_id[id as usize];
                let hash = self.hash(a.local(), a.domain());
                if let Ok(entry) = self.table.find_entry(widen(hash), |slot| slot.id == id) {
                    entry.remove();
                }
                self.free.push(id);
            }
        }
    }

    pub(super) fn id(&self, address: &Address) -> Option<Id> {
        let hash = self.hash(address.local(), address.domain());
        self.find(hash, address.local(), address.domain())
    }

    fn find(&self, hash: u32, local: &str, domain: &str) -> Option<Id> {
        self.table
            .find(widen(hash), |slot| {
                slot.hash == hash && {
                    let a = &self.by_id[slot.id as usize];
                    a.local() == local && a.domain() == domain
                }
            })
            .map(|slot| slot.id)
    }

    /// The hash the table keeps for an address with these parts.
    pub(super) fn hash(&self, local: &str, domain: &str) -> u32 {
        let h = self.hasher.hash_one((local, domain));
        (h >> 32) as u32 ^ h as u32
    }

    /// Ids are only made by `retain`, so they always index `by_id`.
    pub(super) fn addr(&self, id: Id) -> &Arc<Address> {
        &self.by_id[id as usize]
    }

    /// How many addresses are interned.
    pub(super) fn live(&self) -> usize {
        self.table.len()
    }

    /// How many holds `id` has.
    pub(super) fn holds(&self, id: Id) -> u32 {
        self.holds[id as usize]
    }
}

/// One table entry: an id and the 32-bit hash of its address's parts.
#[derive(Clone, Copy, Debug)]
struct Slot {
    id: Id,
    hash: u32,
}

impl Slot {
    fn rehash(&self) -> u64 {
        widen(self.hash)
    }
}

/// The table's 64-bit hash from the 32 kept: the table takes the bucket
/// from the low bits and its tag from the top seven.
pub(super) fn widen(hash: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(hash)
}

/// The parts of `text` when it is written with only the characters of the
/// plain form (a local part of letters, digits and `-_.!~*'`, a lowercase
/// ASCII domain), where text and parts coincide. Anything else (escapes,
/// quotes) may spell its parts differently and is not split here.
pub(super) fn plain_parts(text: &str) -> Option<(&str, &str)> {
    let at = text.rfind('@')?;
    let (local, domain) = (&text[..at], &text[at + 1..]);
    // A dot-atom: a local part with empty atoms is written quoted, so this
    // spelling of it is not the plain form.
    let plain_local = local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_!~*'".contains(&b))
    });
    let plain_domain = domain
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    (plain_local && plain_domain).then_some((local, domain))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn address(s: &str) -> Address {
        Address::from_canonical(s).unwrap()
    }

    #[test]
    fn plain_text_finds_the_interned_address() {
        let mut names = Names::default();
        let id = names.retain(&address("alice@example.com"));
        let never = |_: &str| -> Result<Address, ()> { Err(()) };
        assert_eq!(names.retain_text("alice@example.com", never), Ok(id));
        assert_eq!(names.holds(id), 2);
        // A new plain address is built once and then found.
        let bob = names
            .retain_text("bob@example.com", Address::from_canonical)
            .unwrap();
        assert_eq!(names.id(&address("bob@example.com")), Some(bob));
        // An escaped spelling is not split as it stands: its parts are not
        // its text, and an address whose local part is that text is another.
        let odd = Address::new("a%41", "example.com").unwrap();
        let odd_id = names.retain(&odd);
        let decoded = names
            .retain_text("a%41@example.com", |_| Address::new("aA", "example.com"))
            .unwrap();
        assert_ne!(decoded, odd_id);
        assert_eq!(names.addr(decoded).local(), "aA");
        assert_eq!(names.retain_text("x@example.com", never), Err(()));
        // Not a dot-atom: never split, even when an address has those parts.
        let quoted = names.retain(&Address::new("a..b", "example.com").unwrap());
        assert_eq!(names.retain_text("a..b@example.com", never), Err(()));
        assert_eq!(names.holds(quoted), 1);
    }

    #[test]
    fn freed_ids_leave_the_table_and_are_reused() {
        let mut names = Names::default();
        let alice = names.retain(&address("alice@example.com"));
        names.release(alice);
        names.collect();
        assert_eq!(names.live(), 0);
        assert_eq!(names.id(&address("alice@example.com")), None);
        let bob = names.retain_owned(address("bob@example.com"));
        assert_eq!(bob, alice, "the freed id is reused");
        let never = |_: &str| -> Result<Address, ()> { Err(()) };
        assert_eq!(names.retain_text("bob@example.com", never), Ok(bob));
        assert_eq!(names.holds(bob), 2);
    }
}
