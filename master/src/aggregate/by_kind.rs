//! A run's stats split by the SLO kind of their endpoints.

use lv_common::kind::SloKind;
use lv_common::stats::EndpointStats;

/// Stats split by the SLO kind of their endpoints: slot 0 for endpoints without a kind, then
/// one per [`SloKind::ALL`], in order. A fixed array, so a report's merge costs no lookup.
#[derive(Debug, Clone, Default)]
pub(super) struct ByKind([EndpointStats; 1 + SloKind::ALL.len()]);

impl ByKind {
    fn slot(kind: Option<SloKind>) -> usize {
        match kind {
            None => 0,
            Some(SloKind::Health) => 1,
            Some(SloKind::Event) => 2,
            Some(SloKind::Chat) => 3,
            Some(SloKind::Creative) => 4,
        }
    }

    pub(super) fn get_mut(&mut self, kind: Option<SloKind>) -> &mut EndpointStats {
        &mut self.0[Self::slot(kind)]
    }

    pub(super) fn get(&self, kind: SloKind) -> &EndpointStats {
        &self.0[Self::slot(Some(kind))]
    }

    /// Adds every slot of `other` to the same slot here.
    pub(super) fn merge(&mut self, other: &ByKind) {
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            mine.merge(theirs);
        }
    }

    /// Adds every slot, kinds or not, to `total`.
    pub(super) fn merge_into(&self, total: &mut EndpointStats) {
        for stats in &self.0 {
            total.merge(stats);
        }
    }

    /// The kinds with requests here, and their stats.
    pub(super) fn kinds(&self) -> impl Iterator<Item = (SloKind, &EndpointStats)> {
        SloKind::ALL
            .into_iter()
            .map(|kind| (kind, self.get(kind)))
            .filter(|(_, stats)| !stats.is_empty())
    }
}
