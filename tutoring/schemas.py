from ninja import Schema


class SearchResultOut(Schema):
    passage_id: int
    textbook_id: int
    book: str
    page: int
    heading: list[str]
    citation: str
    score: float
    text: str
    matched: list[str]
    lexical: bool
    highlighted: str
