use super::*;

fn params(start: f64, max: f64) -> SearchParams {
    SearchParams {
        start,
        factor: 1.5,
        precision: 0.1,
        max,
        whole: false,
    }
}

/// Runs `search` against a target judged by `judge` (load, confirm) and returns the loads
/// held, in order, with the conclusion.
fn drive(
    mut search: Search,
    mut judge: impl FnMut(f64, bool) -> Outcome,
) -> (Vec<(f64, bool)>, Conclusion) {
    let mut held = Vec::new();
    loop {
        match search.next_step() {
            Next::Hold { load, confirm } => {
                assert!(held.len() < 100, "the search does not end: {held:?}");
                held.push((load, confirm));
                search.record(judge(load, confirm));
            }
            Next::Done(conclusion) => return (held, conclusion),
        }
    }
}

/// A target that holds up to `knee`.
fn knee(knee: f64) -> impl FnMut(f64, bool) -> Outcome {
    move |load, _| {
        if load <= knee {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn climbs_by_the_factor_then_bisects_then_confirms() {
    let (held, conclusion) = drive(Search::new(params(10.0, 1000.0)), knee(80.0));
    let loads: Vec<f64> = held.iter().map(|h| h.0).collect();
    let climb = [10.0, 15.0, 22.5, 33.75, 50.625, 75.9375, 113.90625];
    for (got, want) in loads.iter().zip(climb) {
        assert!(close(*got, want), "{loads:?}");
    }
    // Bisection: 113.9 failed, 75.9 passed; midpoints until within 10%.
    let bisect = &loads[climb.len()..loads.len() - 1];
    assert_eq!(bisect.len(), 3, "{loads:?}");
    assert!(close(bisect[0], (75.9375 + 113.90625) / 2.0));
    assert!(bisect.iter().all(|&l| l > 75.9375 && l < 113.90625));
    assert_eq!(
        held.last(),
        Some(&(75.9375, true)),
        "the answer is held again"
    );
    assert!(held[..held.len() - 1].iter().all(|h| !h.1));
    let Conclusion::Capacity {
        load,
        confirmed,
        failed_at,
    } = conclusion
    else {
        panic!("{conclusion:?}");
    };
    assert!(confirmed);
    assert!(close(load, 75.9375));
    assert!((failed_at - load) / load <= 0.1, "{failed_at}");
    assert!(failed_at > 80.0);
}

#[test]
fn the_answer_is_within_the_precision_of_any_knee() {
    for k in [11.0, 17.3, 40.0, 80.0, 99.0, 333.0, 999.0] {
        let search = Search::new(params(10.0, 1000.0));
        let (held, conclusion) = drive(search, knee(k));
        let Conclusion::Capacity {
            load, failed_at, ..
        } = conclusion
        else {
            panic!("knee {k}: {conclusion:?}");
        };
        assert!(
            load <= k && failed_at > k,
            "knee {k}: {load} .. {failed_at}"
        );
        assert!((failed_at - load) / load <= 0.1 + 1e-9, "knee {k}");
        assert!(held.len() as u32 <= params(10.0, 1000.0).worst_case_steps());
        assert!(held.iter().all(|h| h.0 <= 1000.0));
    }
}

#[test]
fn the_worst_case_formula_counts_climb_bisect_and_confirm() {
    let p = params(10.0, 250.0);
    // ceil(log1.5(25)) = 8 climbs after the start; ceil(log2(0.5 / 0.1)) = 3 bisections.
    assert_eq!((p.climb_steps(), p.bisect_steps()), (9, 3));
    assert_eq!(p.worst_case_steps(), 13);
    // An exact power climbs exactly: 10, 15, 22.5 (= max).
    assert_eq!(params(10.0, 22.5).climb_steps(), 3);
    // A knee just above a climbing step, failing at max, takes the worst case.
    let (held, _) = drive(Search::new(p), knee(250.0 / 1.5 + 1e-3));
    assert!(held.len() as u32 <= p.worst_case_steps(), "{held:?}");
    let worst = (1..2000)
        .map(|i| drive(Search::new(p), knee(f64::from(i) * 0.13)).0.len())
        .max()
        .unwrap_or(0);
    assert_eq!(worst as u32, p.worst_case_steps());
}

#[test]
fn never_exceeds_max_and_a_passing_max_is_at_least_max() {
    let (held, conclusion) = drive(Search::new(params(10.0, 40.0)), knee(1e9));
    let loads: Vec<f64> = held.iter().map(|h| h.0).collect();
    assert_eq!(loads, [10.0, 15.0, 22.5, 33.75, 40.0]);
    assert_eq!(conclusion, Conclusion::AtLeastMax { load: 40.0 });
    assert_eq!(conclusion.load(), 40.0);
}

#[test]
fn a_generator_limited_step_ends_the_search_with_the_last_pass() {
    let judge = |load: f64, _| {
        if load > 30.0 {
            Outcome::GeneratorLimited
        } else {
            Outcome::Pass
        }
    };
    let (held, conclusion) = drive(Search::new(params(10.0, 1000.0)), judge);
    assert_eq!(held.len(), 4);
    assert_eq!(
        conclusion,
        Conclusion::GeneratorLimited {
            at_least: 22.5,
            at: 33.75
        }
    );
    assert_eq!(conclusion.load(), 22.5);
    // Limited at the very first step: at least nothing.
    let (_, conclusion) = drive(Search::new(params(10.0, 100.0)), |_, _| {
        Outcome::GeneratorLimited
    });
    assert_eq!(conclusion.load(), 0.0);
}

#[test]
fn a_failing_start_is_below_start() {
    let (held, conclusion) = drive(Search::new(params(10.0, 100.0)), knee(5.0));
    assert_eq!(held, [(10.0, false)]);
    assert_eq!(conclusion, Conclusion::BelowStart { start: 10.0 });
    assert_eq!(conclusion.load(), 0.0);
}

#[test]
fn a_failed_confirmation_bisects_below_it_and_is_reported_unconfirmed() {
    // An unsteady target: up to 80 passes once, but not when held again.
    let judge = |load: f64, confirm: bool| match (load, confirm) {
        (l, _) if l <= 69.0 => Outcome::Pass,
        (l, false) if l <= 80.0 => Outcome::Pass,
        _ => Outcome::Fail,
    };
    let (held, conclusion) = drive(Search::new(params(10.0, 1000.0)), judge);
    let confirms: Vec<f64> = held.iter().filter(|h| h.1).map(|h| h.0).collect();
    assert_eq!(confirms, [75.9375], "one confirmation: {held:?}");
    let after: Vec<f64> = held
        .iter()
        .skip_while(|h| !h.1)
        .skip(1)
        .map(|h| h.0)
        .collect();
    assert!(!after.is_empty() && after.iter().all(|&l| l > 50.625 && l < 75.9375));
    let Conclusion::Capacity {
        load,
        confirmed,
        failed_at,
    } = conclusion
    else {
        panic!("{conclusion:?}");
    };
    assert!(!confirmed);
    assert!(load < 75.9375 && load > 50.625, "{load}");
    assert_eq!(
        failed_at, 75.9375,
        "the disproved answer is the lowest failing load"
    );
    assert!((failed_at - load) / load <= 0.1, "{load} .. {failed_at}");
}

#[test]
fn whole_loads_for_users_always_move() {
    let p = SearchParams {
        start: 1.0,
        factor: 1.5,
        precision: 0.1,
        max: 100.0,
        whole: true,
    };
    let (held, conclusion) = drive(Search::new(p), knee(7.0));
    let loads: Vec<f64> = held.iter().map(|h| h.0).collect();
    assert!(loads.iter().all(|l| l.fract() == 0.0), "{loads:?}");
    assert_eq!(&loads[..5], [1.0, 2.0, 3.0, 5.0, 8.0]);
    assert_eq!(
        conclusion,
        Conclusion::Capacity {
            load: 7.0,
            confirmed: true,
            failed_at: 8.0
        }
    );
}

#[test]
fn asking_twice_repeats_the_step_and_stray_records_are_ignored() {
    let mut search = Search::new(params(10.0, 100.0));
    search.record(Outcome::Fail);
    let first = search.next_step();
    assert_eq!(search.next_step(), first);
    search.record(Outcome::Pass);
    assert_eq!(
        search.next_step(),
        Next::Hold {
            load: 15.0,
            confirm: false
        }
    );
}
