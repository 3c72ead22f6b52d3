//! Splitting users across user classes and workers.
//!
//! The master owns the user count of a run and hands each worker a share, so the fleet-wide
//! total must come out exact (10 users on 4 workers is 3,3,2,2, never 2,2,2,2 or 3,3,3,3) and
//! class weights must hold across the whole fleet, not per worker. Everything here is integer
//! arithmetic, deterministic and pure, so a re-assignment with the same inputs gives the same
//! answer and the master can diff assignments.

use std::collections::BTreeMap;

/// Users per user-class name.
pub type ClassUsers = BTreeMap<String, u32>;

/// Splits `total` users across classes by weight (largest remainder, ties to the earlier class).
///
/// The counts sum to exactly `total` unless every weight is 0 (then all get 0: callers should
/// refuse users without a class to run them). Classes of weight 0 get 0. When there are at
/// least as many users as classes of positive weight, every such class gets at least one user
/// (as Locust does), taken from the class furthest above its exact share. A name given twice
/// gets the sum of its shares.
pub fn split_classes(total: u32, weights: &[(String, u32)]) -> ClassUsers {
    let counts = split_counts(total, weights);
    let mut out = ClassUsers::new();
    for ((name, _), count) in weights.iter().zip(counts) {
        *out.entry(name.clone()).or_insert(0) += count;
    }
    out
}

/// Counts per entry of `weights`, in the same order.
fn split_counts(total: u32, weights: &[(String, u32)]) -> Vec<u32> {
    let sum: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let total64 = u64::from(total);
    // Exact share of class i is total * w_i / sum: floor it, then hand out what is left by the
    // largest remainder. total * w_i < 2^64, so nothing overflows.
    let mut counts: Vec<u32> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(u64, usize)> = Vec::new();
    for (i, (_, w)) in weights.iter().enumerate() {
        let exact = total64 * u64::from(*w);
        // floor(total * w / sum) <= total, so it fits in u32.
        counts.push(u32::try_from(exact / sum).unwrap_or(total));
        if *w > 0 {
            remainders.push((exact % sum, i));
        }
    }
    let handed: u32 = counts.iter().sum();
    // Largest remainder first; on a tie the earlier class wins.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take((total - handed) as usize) {
        counts[i] += 1;
    }
    if total as usize >= remainders.len() {
        give_everyone_one(&mut counts, total64, weights, sum);
    }
    counts
}

/// Moves single users so every positive-weight class has at least one.
///
/// The donor is the class with two or more users that is furthest above its exact share (the
/// later class on a tie). The caller guarantees users >= positive classes, so a donor exists.
fn give_everyone_one(counts: &mut [u32], total: u64, weights: &[(String, u32)], sum: u64) {
    // How far class i is above its exact share, scaled by `sum` to stay in integers.
    let surplus =
        |count: u32, w: u32| i128::from(count) * i128::from(sum) - i128::from(total * u64::from(w));
    for needy in 0..counts.len() {
        if weights[needy].1 == 0 || counts[needy] > 0 {
            continue;
        }
        let donor = (0..counts.len())
            .filter(|&i| counts[i] >= 2)
            .max_by_key(|&i| (surplus(counts[i], weights[i].1), i));
        if let Some(donor) = donor {
            counts[donor] -= 1;
            counts[needy] = 1;
        }
    }
}

/// Splits each class's users across `workers` workers: exact per class, balanced per worker.
///
/// Per class every worker gets the floor of its share and the remainder goes one each to
/// consecutive workers, starting where the previous class's remainder stopped, so remainders
/// spread round-robin and per-worker totals differ by at most one. Every map holds every class.
pub fn split_workers(per_class: &ClassUsers, workers: usize) -> Vec<ClassUsers> {
    let mut out = vec![ClassUsers::new(); workers];
    if workers == 0 {
        return out;
    }
    let mut start = 0usize;
    for (name, &users) in per_class {
        let users = users as usize;
        let (base, extra) = (users / workers, users % workers);
        for (w, map) in out.iter_mut().enumerate() {
            // Position of this worker in the rotation that starts at `start`.
            let position = (w + workers - start) % workers;
            let count = base + usize::from(position < extra);
            // count <= users, which came from a u32.
            map.insert(name.clone(), u32::try_from(count).unwrap_or(u32::MAX));
        }
        start = (start + extra) % workers;
    }
    out
}

/// Splits `total` users by class weight, then across `workers` workers.
pub fn assign(total: u32, weights: &[(String, u32)], workers: usize) -> Vec<ClassUsers> {
    split_workers(&split_classes(total, weights), workers)
}

/// Shares the spawn `rate` in proportion to `users` (equal shares if every count is zero).
pub fn split_rate(rate: f64, users: &[u32]) -> Vec<f64> {
    let sum: u64 = users.iter().map(|&u| u64::from(u)).sum();
    if sum == 0 {
        let share = rate / users.len().max(1) as f64;
        return vec![share; users.len()];
    }
    users
        .iter()
        .map(|&u| rate * u as f64 / sum as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn weights(ws: &[u32]) -> Vec<(String, u32)> {
        ws.iter()
            .enumerate()
            .map(|(i, &w)| (format!("c{i}"), w))
            .collect()
    }

    fn values(map: &ClassUsers) -> Vec<u32> {
        map.values().copied().collect()
    }

    #[test]
    fn ten_users_on_four_workers() {
        let per_class = ClassUsers::from([("a".to_owned(), 10)]);
        let split = split_workers(&per_class, 4);
        let counts: Vec<u32> = split.iter().map(|m| m["a"]).collect();
        assert_eq!(counts, [3, 3, 2, 2]);
    }

    #[test]
    fn weights_three_one_one() {
        assert_eq!(values(&split_classes(10, &weights(&[3, 1, 1]))), [6, 2, 2]);
    }

    #[test]
    fn remainders_rotate_across_classes() {
        let per_class = ClassUsers::from([
            ("a".to_owned(), 1),
            ("b".to_owned(), 1),
            ("c".to_owned(), 1),
        ]);
        let totals: Vec<u32> = split_workers(&per_class, 2)
            .iter()
            .map(|m| m.values().sum())
            .collect();
        assert_eq!(totals, [2, 1]);
    }

    #[test]
    fn every_positive_class_gets_one_when_possible() {
        // Exact shares 4.95, 0.0167, 0.0167, 0.0167: largest remainder alone gives 5,0,0,0.
        assert_eq!(
            values(&split_classes(5, &weights(&[297, 1, 1, 1]))),
            [2, 1, 1, 1]
        );
        // Zero-weight classes are never bumped.
        assert_eq!(
            values(&split_classes(3, &weights(&[98, 1, 0, 1]))),
            [1, 1, 0, 1]
        );
    }

    #[test]
    fn edge_cases() {
        assert!(split_classes(10, &[]).is_empty());
        assert_eq!(values(&split_classes(5, &weights(&[0, 0]))), [0, 0]);
        assert_eq!(values(&split_classes(5, &weights(&[0, 1]))), [0, 5]);
        // Fewer users than classes: no bump, earlier classes win ties.
        assert_eq!(values(&split_classes(2, &weights(&[1, 1, 1]))), [1, 1, 0]);
        assert!(split_workers(&ClassUsers::from([("a".to_owned(), 3)]), 0).is_empty());
        let repeated = vec![("a".to_owned(), 1), ("a".to_owned(), 1)];
        assert_eq!(split_classes(5, &repeated)["a"], 5);
        assert_eq!(assign(10, &weights(&[1]), 4).len(), 4);
    }

    #[test]
    fn rate_follows_users() {
        assert_eq!(split_rate(10.0, &[3, 1, 0, 1]), [6.0, 2.0, 0.0, 2.0]);
        assert_eq!(split_rate(9.0, &[0, 0, 0]), [3.0, 3.0, 3.0]);
        assert!(split_rate(5.0, &[]).is_empty());
    }

    proptest! {
        #[test]
        fn assignment_is_exact_and_balanced(
            total in 0u32..5000,
            ws in prop::collection::vec(0u32..10, 1..6),
            workers in 1usize..50,
        ) {
            let weights = weights(&ws);
            let per_class = split_classes(total, &weights);
            let sum_w: u32 = ws.iter().sum();
            // With every weight 0 nobody can take users; validation upstream refuses that.
            let placed = if sum_w == 0 { 0 } else { total };
            prop_assert_eq!(per_class.values().sum::<u32>(), placed);

            let positive = ws.iter().filter(|&&w| w > 0).count();
            // Classes whose exact share is below one may be bumped to one, each bump taking a
            // user from another class.
            let below_one = |w: u32| u64::from(total) * u64::from(w) < u64::from(sum_w);
            let small = ws.iter().filter(|&&w| w > 0 && below_one(w)).count();
            let bumps = if total as usize >= positive { small } else { 0 };
            for (i, &w) in ws.iter().enumerate() {
                let got = per_class[&format!("c{i}")];
                if w == 0 || sum_w == 0 {
                    prop_assert_eq!(got, 0);
                    continue;
                }
                let exact = f64::from(total) * f64::from(w) / f64::from(sum_w);
                prop_assert!((f64::from(got) - exact).abs() < 1.0 + bumps as f64,
                    "class {} got {} for exact share {}", i, got, exact);
                if total as usize >= positive {
                    prop_assert!(got >= 1);
                }
            }

            let split = split_workers(&per_class, workers);
            prop_assert_eq!(split.len(), workers);
            let totals: Vec<u32> = split.iter().map(|m| m.values().sum()).collect();
            prop_assert_eq!(totals.iter().sum::<u32>(), placed);
            prop_assert!(spread(&totals) <= 1, "worker totals {:?}", totals);
            for (name, &users) in &per_class {
                let column: Vec<u32> =
                    split.iter().map(|m| m.get(name).copied().unwrap_or(u32::MAX)).collect();
                let column_sum: u64 = column.iter().map(|&c| u64::from(c)).sum();
                prop_assert_eq!(column_sum, u64::from(users));
                prop_assert!(spread(&column) <= 1, "class {} split {:?}", name, column);
            }
            prop_assert_eq!(assign(total, &weights, workers), split);
        }

        #[test]
        fn rate_shares_sum_to_rate(
            rate in 0.0f64..10_000.0,
            users in prop::collection::vec(0u32..1000, 1..50),
        ) {
            let shares = split_rate(rate, &users);
            let sum: f64 = shares.iter().sum();
            prop_assert!((sum - rate).abs() <= 1e-9 * rate.max(1.0), "{} vs {}", sum, rate);
        }
    }

    fn spread(values: &[u32]) -> u32 {
        let max = values.iter().copied().max().unwrap_or(0);
        let min = values.iter().copied().min().unwrap_or(0);
        max - min
    }
}
