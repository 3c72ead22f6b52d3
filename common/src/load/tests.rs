use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn all_arrivals(schedule: &Schedule, kind: ArrivalKind, seed: u64, stripe: Stripe) -> Vec<u64> {
    StripeArrivals::new(schedule, kind, seed, stripe)
        .map(|(k, _)| k)
        .collect()
}

#[test]
fn uniform_constant_rate_fires_floor_of_the_integral() {
    let schedule = Schedule::new(100.0, &[(secs(10), 100.0)]);
    assert_eq!(schedule.total(), 1000);
    let offsets: Vec<Duration> =
        StripeArrivals::new(&schedule, ArrivalKind::Uniform, 0, Stripe::ALL)
            .map(|(_, at)| at)
            .collect();
    assert_eq!(offsets.len(), 1000);
    assert_eq!(offsets[0], Duration::from_millis(10));
    assert_eq!(offsets[999], secs(10));
    let half = Schedule::new(2.5, &[(secs(3), 2.5)]);
    assert_eq!(half.total(), 7, "7.5 planned arrivals floor to 7");
}

#[test]
fn ramp_from_zero_to_200_over_10s_gives_1000() {
    let schedule = Schedule::new(0.0, &[(secs(10), 200.0)]);
    assert_eq!(schedule.total(), 1000);
    let arrivals = all_arrivals(&schedule, ArrivalKind::Uniform, 0, Stripe::ALL);
    assert_eq!(arrivals.len(), 1000);
    // A(t) = 10 t², so the 250th arrival is due at 5 s.
    let at = schedule
        .offset_of_level(250.0)
        .expect("within the schedule");
    assert!((at.as_secs_f64() - 5.0).abs() < 1e-9, "{at:?}");
}

#[test]
fn zero_rate_stages_plan_nothing_and_shift_later_arrivals() {
    // 2 s idle, then 10/s for 1 s, then idle again.
    let schedule = Schedule::new(
        0.0,
        &[
            (secs(2), 0.0),
            (Duration::ZERO, 10.0),
            (secs(1), 10.0),
            (Duration::ZERO, 0.0),
            (secs(3), 0.0),
        ],
    );
    assert_eq!(schedule.total(), 10);
    let offsets: Vec<f64> = StripeArrivals::new(&schedule, ArrivalKind::Uniform, 0, Stripe::ALL)
        .map(|(_, at)| at.as_secs_f64())
        .collect();
    assert_eq!(offsets.len(), 10);
    assert!((offsets[0] - 2.1).abs() < 1e-9, "{offsets:?}");
    assert!((offsets[9] - 3.0).abs() < 1e-9, "{offsets:?}");
    assert_eq!(schedule.offset_of_level(10.5), None);
    assert_eq!(schedule.duration(), secs(6));
    assert_eq!(schedule.rate_at(Duration::from_millis(2500)), 10.0);
    assert_eq!(schedule.rate_at(secs(4)), 0.0);
}

#[test]
fn striping_splits_1000_over_3_workers_as_334_333_333() {
    let schedule = Schedule::new(100.0, &[(secs(10), 100.0)]);
    let counts: Vec<usize> = (0..3)
        .map(|w| {
            all_arrivals(
                &schedule,
                ArrivalKind::Uniform,
                0,
                Stripe {
                    workers: 3,
                    index: w,
                    from: 0,
                },
            )
            .len()
        })
        .collect();
    assert_eq!(counts, vec![334, 333, 333]);
}

#[test]
fn restriping_from_k0_covers_every_arrival_once() {
    let schedule = Schedule::new(50.0, &[(secs(4), 50.0)]);
    let old = Stripe {
        workers: 3,
        index: 1,
        from: 0,
    };
    // Before 90, three workers; from 90, two (the old worker 1 is now index 0).
    let mut seen: Vec<u64> = Vec::new();
    for w in 0..3 {
        let stripe = Stripe {
            workers: 3,
            index: w,
            from: 0,
        };
        seen.extend(
            all_arrivals(&schedule, ArrivalKind::Uniform, 0, stripe)
                .into_iter()
                .filter(|&k| k < 90),
        );
    }
    for w in 0..2 {
        seen.extend(all_arrivals(
            &schedule,
            ArrivalKind::Uniform,
            0,
            Stripe {
                workers: 2,
                index: w,
                from: 90,
            },
        ));
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..200).collect::<Vec<u64>>());
    assert_eq!(old.count_in(0, 90), 30);
    assert_eq!(old.count_in(30, 60), 10);
}

#[test]
fn poisson_is_reproducible_from_the_seed_and_shared_by_workers() {
    let schedule = Schedule::new(100.0, &[(secs(10), 100.0)]);
    let once = all_arrivals(&schedule, ArrivalKind::Poisson, 42, Stripe::ALL);
    let twice = all_arrivals(&schedule, ArrivalKind::Poisson, 42, Stripe::ALL);
    assert_eq!(once, twice);
    // A Poisson count of mean 1000 lies within ±5 sd.
    assert!((842..=1158).contains(&once.len()), "{}", once.len());
    let other = all_arrivals(&schedule, ArrivalKind::Poisson, 43, Stripe::ALL);
    assert_ne!(
        once.len(),
        other.len(),
        "a different seed gives a different run"
    );
    let mut striped: Vec<u64> = (0..3)
        .flat_map(|w| {
            all_arrivals(
                &schedule,
                ArrivalKind::Poisson,
                42,
                Stripe {
                    workers: 3,
                    index: w,
                    from: 0,
                },
            )
        })
        .collect();
    striped.sort_unstable();
    assert_eq!(striped, once);
    let at = |stripe| -> Vec<Duration> {
        StripeArrivals::new(&schedule, ArrivalKind::Poisson, 42, stripe)
            .map(|(_, t)| t)
            .collect()
    };
    let whole = at(Stripe::ALL);
    let second = at(Stripe {
        workers: 3,
        index: 1,
        from: 0,
    });
    assert_eq!(second[0], whole[1], "each worker sees the shared instants");
}

#[test]
fn splitmix_matches_its_reference_values() {
    // First outputs of SplitMix64 seeded with 0 (Vigna's reference implementation).
    let mut rng = SplitMix64::new(0);
    assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
}

#[test]
fn request_timing_adds_lag_and_service() {
    let t = RequestTiming::new(Duration::from_micros(1500), Duration::from_micros(2500));
    assert_eq!((t.response_us, t.service_us, t.lag_us), (4000, 2500, 1500));
}

#[test]
fn open_stats_merge_counts_and_histograms() {
    let mut a = OpenStats::default();
    a.counts.scheduled = 3;
    a.record(
        "GET",
        "/health",
        RequestTiming::new(Duration::ZERO, Duration::from_millis(5)),
    );
    let mut b = OpenStats::default();
    b.counts.scheduled = 2;
    b.counts.dropped = 1;
    b.record(
        "GET",
        "/health",
        RequestTiming::new(Duration::from_millis(1), Duration::from_millis(7)),
    );
    a.merge(&b);
    assert_eq!(a.counts.scheduled, 5);
    assert_eq!(a.counts.dropped, 1);
    let row = a.endpoints.values().next().expect("one endpoint");
    assert_eq!(row.service.requests, 2);
    assert_eq!(row.service.max_us, 7000);
    assert_eq!(a.total_lag().max_us, 1000);
    let taken = a.take();
    assert_eq!(taken.counts.scheduled, 5);
    assert!(a.endpoints.is_empty());
}

#[test]
fn parses_rates() {
    assert_eq!(parse_rate("200/s"), Ok(200.0));
    assert_eq!(parse_rate(" 50 "), Ok(50.0));
    assert_eq!(parse_rate("120/m"), Ok(2.0));
    assert_eq!(parse_rate("3600/h"), Ok(1.0));
    assert_eq!(parse_rate("0.5/sec"), Ok(0.5));
    assert!(
        parse_rate("200/d")
            .expect_err("unit")
            .contains("unknown unit")
    );
    assert!(parse_rate("-1/s").expect_err("negative").contains("≥ 0"));
    assert!(parse_rate("fast").expect_err("word").contains("200/s"));
    assert!(parse_rate("1e12/s").is_err());
}

const OPEN: &str = r#"
[load]
model = "open"
arrivals = "poisson"
seed = 7
max_in_flight = 20
on_saturation = "queue"
stages = [
  { name = "warm", duration = "30s", to = 10 },
  { duration = 60, to = "100/s" },
]
"#;

#[test]
fn parses_an_open_shape() {
    let shape = parse_shape("capacity.toml", OPEN)
        .expect("valid")
        .expect("has [load]");
    assert_eq!(shape.model, Model::Open);
    assert_eq!(shape.arrivals, ArrivalKind::Poisson);
    assert_eq!(shape.seed, Some(7));
    assert_eq!(shape.max_in_flight, Some(20));
    assert_eq!(shape.on_saturation, OnSaturation::Queue);
    assert_eq!(
        shape.stages[0],
        Stage {
            name: "warm".into(),
            duration: secs(30),
            to: 10.0
        }
    );
    assert_eq!(shape.stages[1].name, "stage-2");
    assert_eq!(shape.stages[1].to, 100.0);
    assert_eq!(shape.duration(), secs(90));
    // 0→10 over 30 s (150) plus 10→100 over 60 s (3300).
    assert_eq!(shape.schedule().total(), 3450);
}

#[test]
fn parses_a_closed_shape_of_whole_users() {
    let text = "[load]\nmodel = \"closed\"\nstages = [\n  { duration = \"10s\", to = 50 },\n  { name = \"spike\", duration = 0, to = 500 },\n  { duration = \"1m\", to = 500 },\n  { duration = \"5s\", to = 20 },\n]\n";
    let shape = parse_shape("spike.toml", text)
        .expect("valid")
        .expect("has [load]");
    assert_eq!(shape.model, Model::Closed);
    assert_eq!(shape.start, 0.0);
    assert_eq!(shape.stages[1].name, "spike");
    assert_eq!(shape.stages[1].duration, Duration::ZERO);
    assert_eq!(shape.duration(), secs(75));
    assert_eq!(shape.peak(), 500.0);
    for key in [
        "arrivals = \"poisson\"",
        "seed = 1",
        "on_saturation = \"queue\"",
    ] {
        let text =
            format!("[load]\nmodel = \"closed\"\n{key}\nstages = [{{ duration = 1, to = 1 }}]\n");
        let err = parse_shape("c.toml", &text).expect_err(key).to_string();
        let name = key.split(' ').next().unwrap_or_default();
        assert!(
            err.starts_with(&format!(
                "c.toml: load.{name}: only applies to model = \"open\""
            )),
            "{err}"
        );
    }
}

#[test]
fn a_document_without_load_has_no_shape() {
    assert_eq!(parse_shape("x.toml", "[other]\na = 1\n"), Ok(None));
}

#[test]
fn errors_name_the_file_and_key() {
    let cases = [
        (
            "[load]\nmodel = \"open\"\nstages = []\n",
            "x.toml: load.stages: at least one",
        ),
        (
            "[load]\nmodel = \"open\"\nstages = [{ duration = \"5q\", to = 1 }]\n",
            "x.toml: load.stages[1].duration: invalid duration",
        ),
        (
            "[load]\nmodel = \"closed\"\nstages = [{ duration = \"5s\", to = 1.5 }]\n",
            "x.toml: load.stages[1].to: expected a whole number",
        ),
        (
            "[load]\nmodel = \"closed\"\nmax_in_flight = 3\nstages = [{ duration = \"5s\", to = 1 }]\n",
            "x.toml: load.max_in_flight: only applies",
        ),
        (
            "[load]\nmodel = \"open\"\nseed = 3\nstages = [{ duration = \"5s\", to = 1 }]\n",
            "x.toml: load.seed: only applies to arrivals",
        ),
        (
            "[load]\nmodel = \"open\"\nstages = [{ name = \"a\", duration = 1, to = 1 }, { name = \"a\", duration = 1, to = 1 }]\n",
            "x.toml: load.stages[2].name: \"a\" names two stages",
        ),
        (
            "[load]\nmodel = \"open\"\nstages = [{ duration = 0, to = 1 }]\n",
            "the stages last no time",
        ),
    ];
    for (text, want) in cases {
        let err = parse_shape("x.toml", text).expect_err(want).to_string();
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
    let err = parse_shape(
        "x.toml",
        "[load]\nmodel = \"open\"\nrate = 3\nstages = []\n",
    )
    .expect_err("unknown key")
    .to_string();
    assert!(err.starts_with("x.toml:3:"), "{err}");
    assert!(err.contains("rate"), "{err}");
}

/// Up to 4 stages of up to 20 s each, rates up to 300/s (zeros likely).
fn stages() -> impl Strategy<Value = (f64, Vec<(Duration, f64)>)> {
    let rate = prop_oneof![Just(0.0), 0.0..300.0f64];
    let stage = (0u64..20_000, rate.clone()).prop_map(|(ms, r)| (Duration::from_millis(ms), r));
    (rate, prop::collection::vec(stage, 1..5))
}

proptest! {
    #[test]
    fn uniform_totals_are_exact((start, stages) in stages()) {
        let schedule = Schedule::new(start, &stages);
        let fired = all_arrivals(&schedule, ArrivalKind::Uniform, 0, Stripe::ALL);
        prop_assert_eq!(fired.len() as u64, schedule.total());
        prop_assert!((schedule.level_end() - schedule.total() as f64) < 1.0 + 1e-6);
        let offsets: Vec<Duration> = StripeArrivals::new(&schedule, ArrivalKind::Uniform, 0, Stripe::ALL)
            .map(|(_, t)| t)
            .collect();
        prop_assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "instants go forward");
        prop_assert!(offsets.iter().all(|&t| t <= schedule.duration()));
    }

    #[test]
    fn stripes_partition_and_balance((start, stages) in stages(), n in 1u32..8, from in 0u64..50) {
        let schedule = Schedule::new(start, &stages);
        let total = schedule.total();
        let mut all: Vec<u64> = Vec::new();
        let mut counts = Vec::new();
        for w in 0..n {
            let stripe = Stripe { workers: n, index: w, from };
            let mine = all_arrivals(&schedule, ArrivalKind::Uniform, 0, stripe);
            prop_assert_eq!(mine.len() as u64, stripe.count_in(0, total));
            counts.push(mine.len());
            all.extend(mine);
        }
        let (lo, hi) = (counts.iter().min().copied(), counts.iter().max().copied());
        prop_assert!(hi.unwrap_or(0) - lo.unwrap_or(0) <= 1, "{:?}", counts);
        all.sort_unstable();
        let want: Vec<u64> = (from.min(total)..total).collect();
        prop_assert_eq!(all, want);
    }

    #[test]
    fn workers_interleave_without_bunching((start, stages) in stages(), n in 2u32..6) {
        // Between two arrivals of one worker lie exactly n − 1 arrivals of the others.
        let schedule = Schedule::new(start, &stages);
        let mut merged: Vec<(Duration, u64, u32)> = Vec::new();
        for w in 0..n {
            let stripe = Stripe { workers: n, index: w, from: 0 };
            merged.extend(StripeArrivals::new(&schedule, ArrivalKind::Uniform, 0, stripe).map(|(k, t)| (t, k, w)));
        }
        merged.sort_unstable();
        for (i, &(_, k, w)) in merged.iter().enumerate() {
            prop_assert_eq!(k, i as u64);
            prop_assert_eq!(w, (i as u64 % u64::from(n)) as u32);
        }
    }

    #[test]
    fn inverse_round_trips((start, stages) in stages(), at in 0.0..1.0f64) {
        let schedule = Schedule::new(start, &stages);
        let t = schedule.duration().mul_f64(at);
        let level = schedule.level_at(t);
        let back = schedule.offset_of_level(level).expect("a reached level");
        // Where the rate is 0 the inverse returns the start of the flat part: never later.
        prop_assert!(back <= t + Duration::from_micros(1), "{:?} > {:?}", back, t);
        let again = schedule.level_at(back);
        prop_assert!((again - level).abs() <= 1e-6 * level.max(1.0), "{} vs {}", again, level);
        if schedule.rate_at(t) > 1.0 {
            prop_assert!(back + Duration::from_millis(1) >= t, "{:?} vs {:?}", back, t);
        }
    }

    #[test]
    fn poisson_stripes_share_one_sequence((start, stages) in stages(), n in 1u32..5, seed in any::<u64>()) {
        let schedule = Schedule::new(start, &stages);
        let whole = all_arrivals(&schedule, ArrivalKind::Poisson, seed, Stripe::ALL);
        let mut striped: Vec<u64> = (0..n)
            .flat_map(|w| all_arrivals(&schedule, ArrivalKind::Poisson, seed, Stripe { workers: n, index: w, from: 0 }))
            .collect();
        striped.sort_unstable();
        prop_assert_eq!(striped, whole);
    }
}

/// Cases of each generated-input property below.
const HOSTILE_CASES: u32 = 4096;

mod hostile {
    use crate::duration::hostile::{
        DURATIONS, NUMBERS, edit, mutate, odd_text, toml_string, toml_value,
    };
    use proptest::prelude::*;

    /// A stage's `duration`: seconds, or text in every form.
    fn duration() -> BoxedStrategy<String> {
        prop_oneof![
            (0u32..600).prop_map(|s| s.to_string()),
            prop::sample::select(&["\"30s\"", "\"5m\"", "\"1h30m\"", "\"500ms\"", "0", "2.5"][..])
                .prop_map(str::to_owned),
        ]
        .boxed()
    }

    /// A stage's `to` or the shape's `start`: whole users (closed), or rates in every
    /// unit (open).
    fn value(open: bool) -> BoxedStrategy<String> {
        if !open {
            return prop_oneof![
                (0u32..1_000).prop_map(|n| n.to_string()),
                Just("1e3".to_owned())
            ]
            .boxed();
        }
        prop_oneof![
            (0u32..1_000).prop_map(|n| n.to_string()),
            (0.0..500.0f64).prop_map(|r| format!("{r:?}")),
            (
                0u32..500,
                prop::sample::select(&["s", "sec", "m", "min", "h", "S"][..])
            )
                .prop_map(|(n, unit)| toml_string(&format!("{n}/{unit}"))),
        ]
        .boxed()
    }

    /// One stage as `(key, value)` pairs; `name` often left out.
    fn stage(open: bool) -> impl Strategy<Value = Vec<(&'static str, String)>> {
        (
            prop::option::weighted(
                0.5,
                prop_oneof![
                    3 => crate::duration::hostile::re("[a-z]{1,6}").prop_map(|n| toml_string(&n)),
                    1 => odd_text().prop_map(|n| toml_string(&n)),
                ],
            ),
            duration(),
            value(open),
        )
            .prop_map(|(name, duration, to)| {
                let mut fields: Vec<(&'static str, String)> =
                    name.map(|n| ("name", n)).into_iter().collect();
                fields.push(("duration", duration));
                fields.push(("to", to));
                fields
            })
    }

    /// A `[load]` table: top-level `(key, value)` pairs and the stages.
    #[derive(Debug, Clone)]
    struct Table {
        fields: Vec<(&'static str, String)>,
        stages: Vec<Vec<(&'static str, String)>>,
    }

    fn table() -> impl Strategy<Value = Table> {
        any::<bool>()
            .prop_flat_map(|open| {
                (
                    Just(open),
                    prop::option::weighted(0.3, value(open)),
                    prop::option::of(prop::sample::select(&["\"uniform\"", "\"poisson\""][..])),
                    prop::option::weighted(0.5, any::<u64>()),
                    prop::option::weighted(0.3, 1u32..1_000),
                    prop::option::weighted(
                        0.3,
                        prop::sample::select(&["\"drop\"", "\"queue\""][..]),
                    ),
                    prop::collection::vec(stage(open), 1..5),
                )
            })
            .prop_map(|(open, start, arrivals, seed, cap, saturation, stages)| {
                let model = if open { "\"open\"" } else { "\"closed\"" };
                let mut fields = vec![("model", model.to_owned())];
                fields.extend(start.map(|s| ("start", s)));
                if open {
                    fields.extend(arrivals.map(|a| ("arrivals", a.to_owned())));
                    if arrivals == Some("\"poisson\"") {
                        fields.extend(seed.map(|s| ("seed", s.to_string())));
                    }
                    fields.extend(cap.map(|c| ("max_in_flight", c.to_string())));
                    fields.extend(saturation.map(|s| ("on_saturation", s.to_owned())));
                }
                Table { fields, stages }
            })
    }

    /// What is done to a valid `[load]` table before it is parsed.
    #[derive(Debug, Clone)]
    enum Mutation {
        None,
        /// A top-level value replaced.
        Field(prop::sample::Index, String),
        /// A stage's value replaced.
        StageField(prop::sample::Index, prop::sample::Index, String),
        /// A top-level key or a stage's key left out.
        Drop(prop::sample::Index, Option<prop::sample::Index>),
        /// A key added to the table or to a stage.
        Extra(Option<prop::sample::Index>, &'static str, String),
        /// Characters changed anywhere.
        Edits(Vec<(usize, u8, char)>),
    }

    /// A hostile value: of another type, at a limit, or a duration or rate out of bounds.
    fn bad_value() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => toml_value(),
            1 => prop::sample::select(DURATIONS).prop_map(toml_string),
            1 => (
                prop::sample::select(NUMBERS),
                prop::sample::select(&["/s", "/m", "/h", "/d", "/", "/ S", ""][..]),
            )
                .prop_map(|(n, u)| toml_string(&format!("{n}{u}"))),
        ]
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let index = any::<prop::sample::Index>;
        let key = prop::sample::select(
            &[
                "model",
                "start",
                "stages",
                "arrivals",
                "seed",
                "max_in_flight",
                "on_saturation",
                "rate",
                "name",
                "duration",
                "to",
                "",
            ][..],
        );
        prop_oneof![
            2 => Just(Mutation::None),
            2 => (index(), bad_value()).prop_map(|(f, v)| Mutation::Field(f, v)),
            4 => (index(), index(), bad_value()).prop_map(|(s, f, v)| Mutation::StageField(s, f, v)),
            1 => (index(), prop::option::of(index())).prop_map(|(a, b)| Mutation::Drop(a, b)),
            1 => (prop::option::of(index()), key, toml_value())
                .prop_map(|(s, k, v)| Mutation::Extra(s, k, v)),
            2 => prop::collection::vec(edit(), 1..4).prop_map(Mutation::Edits),
        ]
    }

    /// A document with a `[load]` table, one thing (at most) wrong in it.
    pub(super) fn shape_text() -> impl Strategy<Value = String> {
        (table(), mutation()).prop_map(|(mut table, mutation)| {
            let mut edits = Vec::new();
            match mutation {
                Mutation::None => {}
                Mutation::Field(f, value) => {
                    let at = f.index(table.fields.len());
                    table.fields[at].1 = value;
                }
                Mutation::StageField(s, f, value) => {
                    let stage = s.index(table.stages.len());
                    let fields = &mut table.stages[stage];
                    let at = f.index(fields.len());
                    fields[at].1 = value;
                }
                Mutation::Drop(f, None) => {
                    table.fields.remove(f.index(table.fields.len()));
                }
                Mutation::Drop(s, Some(f)) => {
                    let stage = s.index(table.stages.len());
                    let fields = &mut table.stages[stage];
                    fields.remove(f.index(fields.len()));
                }
                Mutation::Extra(None, key, value) => table.fields.push((key, value)),
                Mutation::Extra(Some(s), key, value) => {
                    let stage = s.index(table.stages.len());
                    table.stages[stage].push((key, value));
                }
                Mutation::Edits(e) => edits = e,
            }
            let inline = |fields: &[(&str, String)]| {
                let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", pairs.join(", "))
            };
            let mut text = String::from("[load]\n");
            for (key, value) in &table.fields {
                text.push_str(&format!("{key} = {value}\n"));
            }
            text.push_str("stages = [\n");
            for stage in &table.stages {
                text.push_str(&format!("  {},\n", inline(stage)));
            }
            text.push_str("]\n");
            mutate(&text, &edits)
        })
    }
}

/// No panic; a shape whose schedule can be computed and walked, or an error naming the
/// file and the key (or line).
fn check_shape(text: &str) -> Result<(), TestCaseError> {
    let shape = match parse_shape("shape.toml", text) {
        Ok(Some(shape)) => shape,
        Ok(None) => return Ok(()),
        Err(err @ LoadError::Syntax { line, .. }) => {
            let message = err.to_string();
            let prefix = match line {
                Some(line) => {
                    let lines = text.matches('\n').count() + 1;
                    prop_assert!((1..=lines).contains(&line), "line {} of {}", line, lines);
                    format!("shape.toml:{line}: ")
                }
                None => "shape.toml: ".to_owned(),
            };
            prop_assert!(
                message.starts_with(&prefix),
                "{:?} lacks {:?}",
                message,
                prefix
            );
            return Ok(());
        }
        Err(err @ LoadError::Invalid { .. }) => {
            let message = err.to_string();
            prop_assert!(message.starts_with("shape.toml: load"), "{:?}", message);
            if let LoadError::Invalid { key, detail, .. } = &err {
                prop_assert!(key == "load" || key.starts_with("load."), "{:?}", key);
                prop_assert!(!detail.is_empty());
            }
            return Ok(());
        }
    };
    prop_assert!(!shape.stages.is_empty());
    let peak = shape.peak();
    prop_assert!(peak.is_finite() && peak >= 0.0, "peak {}", peak);
    match shape.model {
        Model::Closed => prop_assert!(peak.fract() == 0.0 && peak <= 1e9, "{}", peak),
        Model::Open => prop_assert!(peak <= MAX_RATE, "{}", peak),
    }
    let duration = shape.duration();
    prop_assert!(!duration.is_zero());
    let schedule = shape.schedule();
    let length = schedule.duration();
    prop_assert!(
        length <= duration + Duration::from_millis(1),
        "{:?} vs {:?}",
        length,
        duration
    );
    let total = schedule.total();
    let _ = schedule.rate_at(length / 2);
    let _ = schedule.level_at(length / 3);
    prop_assert!(schedule.offset_of_level(total as f64).is_some());
    let seed = shape.seed.unwrap_or(1);
    for kind in [ArrivalKind::Uniform, ArrivalKind::Poisson] {
        for (_, at) in StripeArrivals::new(&schedule, kind, seed, Stripe::ALL).take(8) {
            prop_assert!(at <= length, "{:?} after {:?}", at, length);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(HOSTILE_CASES))]

    #[test]
    fn shape_toml_never_panics_4096_cases(text in hostile::shape_text()) {
        check_shape(&text)?;
    }

    #[test]
    fn arbitrary_shape_text_never_panics_4096_cases(
        text in prop_oneof![
            crate::duration::hostile::odd_text(),
            crate::duration::hostile::odd_text().prop_map(|t| format!("[load]\n{t}")),
        ],
    ) {
        check_shape(&text)?;
    }

    #[test]
    fn rates_never_panic_4096_cases(
        text in prop_oneof![
            crate::duration::hostile::odd_text(),
            (
                proptest::sample::select(crate::duration::hostile::NUMBERS),
                proptest::sample::select(&["/s", "/m", "/h", "/sec", "/min", "/d", "/", "", " / S"][..]),
            )
                .prop_map(|(n, u)| format!("{n}{u}")),
        ],
    ) {
        match parse_rate(&text) {
            Ok(rate) => prop_assert!(rate.is_finite() && (0.0..=MAX_RATE).contains(&rate), "{}", rate),
            Err(err) => {
                let quoted = format!("{:?}", text.trim());
                prop_assert!(err.contains(&quoted), "{}", err);
            }
        }
    }
}

/// A stage as long as a `Duration` holds, or two that add up past it, are refused by
/// name instead of overflowing when the shape's length or schedule is computed.
#[test]
fn stages_longer_than_a_run_are_errors() {
    for stages in [
        "{ duration = \"18446744073709551615s\", to = 1 }",
        "{ duration = \"18446744073709551615.999999999s\", to = 1 }",
        "{ duration = \"10000000000000000000s\", to = 1 }, { duration = \"10000000000000000000s\", to = 1 }",
        "{ duration = 1e9, to = 1 }, { duration = \"18446744073709551615s\", to = 1 }",
    ] {
        let text = format!("[load]\nmodel = \"open\"\nstages = [{stages}]\n");
        let err = parse_shape("long.toml", &text)
            .expect_err(stages)
            .to_string();
        assert!(err.starts_with("long.toml: load.stages"), "{err}");
    }
}
