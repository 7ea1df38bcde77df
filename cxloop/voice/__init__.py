"""Voice of the customer: language, sentiment and topics of every open-text answer and customer
ticket comment (docs/voice.md). No Prefect here: flows/voice.py makes each step a task."""
