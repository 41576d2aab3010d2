xml.exclaim "You're my boy, #{@name}!"
