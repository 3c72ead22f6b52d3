//! `lv-master check`'s text: Locust's two task-ratio tables (`--show-task-ratio`), then
//! each class with its users and tasks, each task with its tags, variables and endpoints,
//! then the extra sections and the notes. Pure: a [`PlanView`] in, text out.

use std::fmt::Write as _;

use super::inspect::{ClassView, PlanView, StepView, TaskView, VarView, describe_wait};

/// The whole text, ending with a newline.
pub fn text(view: &PlanView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(view));
    let _ = writeln!(out, "{}", filters(view));
    out.push('\n');
    ratio_table(&mut out, view, false);
    out.push('\n');
    ratio_table(&mut out, view, true);
    for class in &view.classes {
        out.push('\n');
        class_text(&mut out, class);
    }
    for section in &view.sections {
        let _ = writeln!(out, "\n{}", section.title);
        for line in &section.lines {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !view.notes.is_empty() {
        out.push_str("\nNotes\n");
        for note in &view.notes {
            let _ = writeln!(out, "  {note}");
        }
    }
    out
}

fn headline(view: &PlanView) -> String {
    let classes = view.classes.len();
    let tasks: usize = view.classes.iter().map(|c| c.tasks.len()).sum();
    let load = match view.users {
        Some(users) => format!(
            "closed model, {users} {}",
            plural(users as usize, "user", "users")
        ),
        None => "open model (arrivals pick a class by weight)".to_owned(),
    };
    format!(
        "Plan: {classes} {}, {tasks} {}; {load}; host {}",
        plural(classes, "user class", "user classes"),
        plural(tasks, "task", "tasks"),
        view.host
    )
}

fn filters(view: &PlanView) -> String {
    let list = |tags: &[String]| {
        if tags.is_empty() {
            "-".to_owned()
        } else {
            tags.join(",")
        }
    };
    format!(
        "Tags: {}; excluded tags: {}",
        list(&view.tags),
        list(&view.exclude_tags)
    )
}

/// `one` for 1, else `many`.
fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// Locust's table: the class's ratio, then each task's ratio indented below it, in percent.
fn ratio_table(out: &mut String, view: &PlanView, total: bool) {
    out.push_str(if total {
        " Total task ratio\n"
    } else {
        " Task ratio per User class\n"
    });
    out.push_str(&"-".repeat(80));
    out.push('\n');
    // Locust's `" %-10s %-50s" % (padding + "%-6.1f" % (ratio * 100), padding + name)`.
    let row = |out: &mut String, padding: &str, ratio: f64, name: &str| {
        let ratio = format!("{padding}{:<6.1}", ratio * 100.0);
        let _ = writeln!(out, " {ratio:<10} {padding}{name}");
    };
    for class in &view.classes {
        row(out, "", class.ratio, &class.name);
        for task in &class.tasks {
            let ratio = if total { task.total_ratio } else { task.ratio };
            row(out, "  ", ratio, &task.name);
        }
    }
}

fn percent(ratio: f64) -> String {
    format!("{:.1}", ratio * 100.0)
}

fn class_text(out: &mut String, class: &ClassView) {
    let users = match class.users {
        Some(users) => format!("{users} {}", plural(users as usize, "user", "users")),
        None => "no fixed users".to_owned(),
    };
    let _ = writeln!(
        out,
        "{} ({})\n  weight {}, {users} ({}%), wait: {}",
        class.name,
        class.defined_at,
        class.weight,
        percent(class.ratio),
        describe_wait(&class.wait)
    );
    if !class.on_start.is_empty() {
        out.push_str("  on_start\n");
        for step in &class.on_start {
            let _ = writeln!(out, "    {}", step_line(step));
        }
    }
    for task in &class.tasks {
        task_text(out, task);
    }
}

fn task_text(out: &mut String, task: &TaskView) {
    let _ = writeln!(
        out,
        "  task {:?}: weight {}, {}% of the class's tasks, {}% of all",
        task.name,
        task.weight,
        percent(task.ratio),
        percent(task.total_ratio)
    );
    if !task.tags.is_empty() {
        let _ = writeln!(out, "    tags: {}", task.tags.join(", "));
    }
    vars_text(out, "requires", &task.requires);
    // A variable both required and used is listed once.
    let uses: Vec<VarView> = task
        .uses
        .iter()
        .filter(|v| !task.requires.iter().any(|r| r.name == v.name))
        .cloned()
        .collect();
    vars_text(out, "uses", &uses);
    for step in &task.steps {
        let _ = writeln!(out, "    {}", step_line(step));
    }
}

/// `requires VAR, extracted by STEP`, or the steps one a line when there are several.
fn vars_text(out: &mut String, what: &str, vars: &[VarView]) {
    for var in vars {
        let _ = match var.extracted_by.as_slice() {
            [] => writeln!(out, "    {what} {}, extracted by no step", var.name),
            [one] => writeln!(out, "    {what} {}, extracted by {one}", var.name),
            many => writeln!(
                out,
                "    {what} {}, extracted by:\n{}",
                var.name,
                many.iter()
                    .map(|s| format!("      {s}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        };
    }
}

/// `POST ATLAS /v1/chat -> http://localhost:8007/v1/chat [chat] extracts conversation_id`.
pub fn step_line(step: &StepView) -> String {
    let mut line = format!("{} {} -> {}", step.method, step.name, step.url);
    if let Some(kind) = step.kind {
        let _ = write!(line, " [{kind}]");
    }
    if !step.extracts.is_empty() {
        let _ = write!(line, " extracts {}", step.extracts.join(", "));
    }
    line
}
