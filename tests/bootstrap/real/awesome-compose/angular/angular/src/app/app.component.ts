import { Component } from '@angular/core';

@Component({
