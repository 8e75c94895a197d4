"""`vkzc report`: compatibility tables from results, as Markdown, HTML and JSON."""
