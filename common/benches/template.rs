//! Benchmark of rendering a request template, as a worker does for every request.
//! Run with `cargo bench -p lv-common --bench template`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use lv_common::template::{Template, UserVars};
use rand::SeedableRng;
use rand::rngs::SmallRng;

fn render(c: &mut Criterion) {
    let template = Template::compile(
        "/v1/sessions/{{ session_id }}/events?n={{ rand_int(1, 1000) }}&id={{ uuid }}",
        &BTreeMap::new(),
    )
    .expect("the template compiles");
    let mut vars = UserVars::new();
    vars.insert("session_id".into(), "c0ffee-1234".into());
    let mut rng = SmallRng::seed_from_u64(1);
    let mut out = String::with_capacity(128);
    c.bench_function("template/render_into (var, rand_int, uuid)", |b| {
        b.iter(|| {
            out.clear();
            template
                .render_into(black_box(&vars), &mut rng, &mut out)
                .expect("the variable is set");
            black_box(out.len())
        });
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
