"""Words at the edge: every sentence the provider says about its values (log lines, headless
output, history summaries, the dashboard's cells). The layers below hand over values only."""
