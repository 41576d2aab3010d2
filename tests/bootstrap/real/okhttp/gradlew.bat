@rem
@rem Copyright 2015 the original author or authors.
@rem
