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

use cpim_formats::uri::Address;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use std::hash::BuildHasher;

use super::Id;

#[derive(Debug, Default)]
pub(super) struct Names {
    by_id: Vec<Address>,
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
            None => self.insert(hash, address.clone()),
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
            None => self.insert(hash, address),
        }
    }

    /// Like `retain`, for an address in its stored text form: the plain
    /// form (`local@domain`, as [`Address::from_canonical`] reads it) is
    /// found without building an address; `parse` builds one when it is
    /// new or written otherwise. A new plain address costs one probe of
    /// the table, not a miss and then an insert.
    pub(super) fn retain_text<E>(
        &mut self,
        text: &str,
        parse: impl FnOnce(&str) -> Result<Address, E>,
    ) -> Result<Id, E> {
        let Some((local, domain)) = plain_parts(text) else {
            return Ok(self.retain_owned(parse(text)?));
        };
        let hash = self.hash(local, domain);
        let by_id = &self.by_id;
        let entry = self.table.entry(
            widen(hash),
            |slot| slot.hash == hash && is(&by_id[slot.id as usize], local, domain),
            Slot::rehash,
        );
        let vacant = match entry {
            Entry::Occupied(found) => {
                let id = found.get().id;
                self.retain_id(id);
                return Ok(id);
            }
            Entry::Vacant(vacant) => vacant,
        };
        let address = parse(text)?;
        if !is(&address, local, domain) {
            return Ok(self.retain_owned(address));
        }
        let id = new_id(&mut self.by_id, &mut self.holds, &mut self.free, address);
        vacant.insert(Slot { id, hash });
        self.retain_id(id);
        Ok(id)
    }

    /// A new id for `address` (not interned yet, its parts hashing to
    /// `hash`), with one hold.
    fn insert(&mut self, hash: u32, address: Address) -> Id {
        let id = new_id(&mut self.by_id, &mut self.holds, &mut self.free, address);
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
                slot.hash == hash && is(&self.by_id[slot.id as usize], local, domain)
            })
            .map(|slot| slot.id)
    }

    /// The hash the table keeps for an address with these parts.
    pub(super) fn hash(&self, local: &str, domain: &str) -> u32 {
        let h = self.hasher.hash_one((local, domain));
        (h >> 32) as u32 ^ h as u32
    }

    /// Ids are only made by `retain`, so they always index `by_id`.
    pub(super) fn addr(&self, id: Id) -> &Address {
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

/// Whether `address` has these parts.
fn is(address: &Address, local: &str, domain: &str) -> bool {
    address.local() == local && address.domain() == domain
}

/// An id for `address`, a freed one if any, with no hold yet; the caller
/// puts it in the table.
fn new_id(
    by_id: &mut Vec<Address>,
    holds: &mut Vec<u32>,
    free: &mut Vec<Id>,
    address: Address,
) -> Id {
    match free.pop() {
        Some(id) => {
            by_id[id as usize] = address;
            id
        }
        None => {
            // Ids index `by_id`; 2^32 addresses would not fit in memory.
            by_id.push(address);
            holds.push(0);
            (by_id.len() - 1) as Id
        }
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
///
/// One pass with a class table: a restart runs this for every stored
/// subscription. Neither class holds `@`, so the one found is the last.
pub(super) fn plain_parts(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    let mut i = 0;
    // A dot-atom: a local part with empty atoms is written quoted, so this
    // spelling of it is not the plain form.
    let mut atom_empty = true;
    loop {
        let c = *b.get(i)?;
        match c {
            b'@' if !atom_empty => break,
            b'.' if !atom_empty => atom_empty = true,
            _ if PLAIN[usize::from(c)] & LOCAL != 0 => atom_empty = false,
            _ => return None,
        }
        i += 1;
    }
    let domain = &b[i + 1..];
    domain
        .iter()
        .all(|&c| PLAIN[usize::from(c)] & DOMAIN != 0)
        .then(|| (&text[..i], &text[i + 1..]))
}

const LOCAL: u8 = 1;
const DOMAIN: u8 = 2;

/// Which bytes may stand in a plain local part (besides `.`) and domain.
static PLAIN: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'!' | b'~' | b'*' | b'\'') {
            table[c] |= LOCAL;
        }
        if b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.') {
            table[c] |= DOMAIN;
        }
        c += 1;
    }
    table
};

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

    proptest::proptest! {
        /// Whatever spelling reaches `retain_text`, plain or not, an
        /// address gets one id, and that id holds the address the text
        /// parses to.
        #[test]
        fn stored_text_interns_as_its_parsed_address(
            texts in proptest::collection::vec(r#"[aAb.%4"\\é@-]{0,4}@[aB.-]{0,4}(\.com)?"#, 1..12)
        ) {
            let mut names = Names::default();
            let mut seen: std::collections::HashMap<Address, Id> = Default::default();
            for text in &texts {
                let parsed = Address::from_canonical(text);
                let id = names.retain_text(text, Address::from_canonical);
                match (parsed, id) {
                    (Ok(address), Ok(id)) => {
                        proptest::prop_assert_eq!(names.addr(id), &address);
                        let first = *seen.entry(address).or_insert(id);
                        proptest::prop_assert_eq!(first, id, "{} got a second id", text);
                    }
                    (Err(_), Err(_)) => {}
                    (parsed, id) => proptest::prop_assert!(
                        false,
                        "{text}: parse {parsed:?}, retain_text {id:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn plain_parts_splits_only_dot_atoms_over_plain_domains() {
        assert_eq!(plain_parts("a.b@ex.com"), Some(("a.b", "ex.com")));
        assert_eq!(plain_parts("a-_!~*'@x"), Some(("a-_!~*'", "x")));
        for text in [
            "@x", ".a@x", "a.@x", "a..b@x", "a@X", "a@b@x", "a%41@x", "\"a\"@x", "ab",
        ] {
            assert_eq!(plain_parts(text), None, "{text}");
        }
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
