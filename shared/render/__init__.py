"""What a reader sees: the Markdown memo, the chart, the memo as sanitised HTML."""
