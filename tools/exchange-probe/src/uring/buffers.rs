//! A ring of provided buffers: where the kernel puts what a multishot receive brings.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::Submitter;
use io_uring::types::BufRingEntry;

/// `count` buffers of `size` bytes, lent to the kernel through a ring of entries.
pub struct Buffers {
    entries: *mut BufRingEntry,
    layout: Layout,
    memory: Box<[u8]>,
    size: usize,
    count: u16,
    tail: u16,
}

impl Buffers {
    /// `count` (a power of two, at most 32,768) buffers of `size` bytes, all lent.
    pub fn new(count: u16, size: usize) -> io::Result<Self> {
        if !count.is_power_of_two() || count > 32_768 {
            return Err(io::Error::other(format!(
                "{count} buffers: not a power of two up to 32768"
            )));
        }
        let layout = Layout::array::<BufRingEntry>(usize::from(count))
            .and_then(|l| l.align_to(4096))
            .map_err(io::Error::other)?;
        // SAFETY: the layout has a non-zero size (count >= 1); the memory is freed in Drop
        // with the same layout.
        let entries = unsafe { alloc_zeroed(layout) }.cast::<BufRingEntry>();
        if entries.is_null() {
            return Err(io::Error::other("no memory for the buffer ring"));
        }
        let mut buffers = Self {
            entries,
            layout,
            memory: vec![0; usize::from(count) * size].into_boxed_slice(),
            size,
            count,
            tail: 0,
        };
        for bid in 0..count {
            buffers.lend(bid);
        }
        Ok(buffers)
    }

    /// Registers the ring as buffer group `group` of `submitter`'s io_uring.
    pub fn register(&self, submitter: &Submitter<'_>, group: u16) -> io::Result<()> {
        // SAFETY: the entries live until this value is dropped, which its owner does only
        // after dropping the io_uring it is registered with.
        unsafe { submitter.register_buf_ring_with_flags(self.entries as u64, self.count, group, 0) }
    }

    /// The first `len` bytes of buffer `bid`, which the kernel has filled and handed back.
    pub fn filled(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid) * self.size;
        &self.memory[start..start + len.min(self.size)]
    }

    /// Lends buffer `bid` to the kernel again.
    pub fn lend(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (self.count - 1));
        let start = usize::from(bid % self.count) * self.size;
        let addr = self.memory[start..].as_mut_ptr() as u64;
        // SAFETY: `slot` is below `count`, the number of entries allocated; the kernel reads
        // an entry only once the tail below has passed it.
        let entry = unsafe { &mut *self.entries.add(slot) };
        entry.set_addr(addr);
        entry.set_len(self.size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is the u16 the kernel reads in the first entry, suitably aligned
        // for an AtomicU16; the release store publishes the entry written above.
        unsafe {
            let tail = BufRingEntry::tail(self.entries).cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, and freed once.
        unsafe { dealloc(self.entries.cast(), self.layout) }
    }
}
