//! The options form, generated from the one option table: a text field per list or number, a
//! choice per enum, a checkbox per switch, grouped as the table groups them, each with its
//! problem underneath in the CLI's own words.

use leptos::prelude::*;
use quantbot_format::option_table::{Group, Kind, OptionSpec};
use quantbot_format::options::OPTIONS;
use quantbot_lab_model::form::Form;

use crate::lab::Lab;

#[component]
pub fn OptionsForm(lab: Lab) -> impl IntoView {
    let groups = Group::ALL.map(|g| {
        let class = if g == Group::Grid {
            "grid-fields"
        } else {
            "fields"
        };
        let fields = OPTIONS
            .iter()
            .filter(|s| s.group == g)
            .map(|s| field(lab, s))
            .collect_view();
        view! { <h3>{g.title()}</h3><div class=class>{fields}</div> }
    });
    view! {
        <h2>"Grid and options"</h2>
        {groups}
        <p class="hint">"Lists are JSON, as on the command line: [2,3], [null,0.9], [[[2,0.5],[3,0.5]]], [null,\"ema_cross:9:21\",\"rsi_below:14:70\",\"tk_cross:9:26\",\"vol_spike:30:4\"]. An empty field takes its default (shown greyed); an empty optional one is off. Hover a name for its help."</p>
    }
}

fn field(lab: Lab, spec: &'static OptionSpec) -> AnyView {
    let flag = spec.flag;
    let form = lab.form;
    let problem = move || lab.problems.with(|p| Form::problem_for(p, flag));
    let text = move || form.with(|f| f.get(flag).unwrap_or_default().to_string());
    let set = move |v: String| {
        form.update(|f| {
            f.set(flag, &v);
        })
    };
    let help = spec.help();
    match spec.kind {
        Kind::Switch => view! {
            <label class="field check">
                <input type="checkbox" data-flag=flag prop:checked=move || text() == "true"
                    on:change=move |ev| set(event_target_checked(&ev).to_string()) />
                <span class="name" title=help>{spec.label}</span>
            </label>
        }
        .into_any(),
        Kind::Choice(words) => view! {
            <label class="field">
                <span class="name" title=help>{spec.label}</span>
                <select data-flag=flag on:change=move |ev| set(event_target_value(&ev))>
                    {words.iter().map(|w| {
                        let w = *w;
                        view! { <option value=w selected=move || text() == w>{w}</option> }
                    }).collect_view()}
                </select>
                <span class="problem" data-flag=flag>{move || problem().unwrap_or_default()}</span>
            </label>
        }
        .into_any(),
        _ => view! {
            <label class="field" class:bad=move || problem().is_some()>
                <span class="name" title=help>{spec.label}</span>
                <input type="text" data-flag=flag placeholder=spec.default_text() prop:value=text
                    on:input=move |ev| set(event_target_value(&ev)) />
                <span class="problem" data-flag=flag>{move || problem().unwrap_or_default()}</span>
            </label>
        }
        .into_any(),
    }
}
